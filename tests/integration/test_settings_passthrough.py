"""Client options from the settings reach the real clients."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from legato.config import CassandraSettings, ConfigError, RedisSettings

pytestmark = pytest.mark.integration


def test_cassandra_options_reach_the_cluster(legato_settings: Any, cassandra_session: Any) -> None:
    from legato.adapters.cassandra import connect

    settings: CassandraSettings = replace(
        legato_settings.cassandra, options={"idle_heartbeat_interval": 7}
    )
    cluster, session = connect(settings)
    try:
        assert cluster.idle_heartbeat_interval == 7
        assert session.execute("SELECT release_version FROM system.local").one() is not None
    finally:
        cluster.shutdown()
    with pytest.raises(ConfigError, match=r"Cassandra options: .*'idle_heartbeat_intervall'"):
        connect(replace(settings, options={"idle_heartbeat_intervall": 7}))


async def test_redis_options_reach_the_client(redis_url: str) -> None:
    from legato.adapters.redis import RedisCoordinator

    settings = replace(RedisSettings.from_url(redis_url), options={"client_name": "legato-test"})
    coordinator = RedisCoordinator.from_url(
        settings.url, prefix=settings.prefix, client_options=settings.client_kwargs()
    )
    try:
        assert await coordinator.client.client_getname() == "legato-test"
    finally:
        await coordinator.close()
