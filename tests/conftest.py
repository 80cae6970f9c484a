"""Fixtures for tests that need the real servers (see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import servers


@pytest.fixture(scope="session")
def legato_settings() -> Any:
    return servers.settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(legato_settings: Any) -> str:
    host, _, port = legato_settings.kafka.bootstrap.split(",")[0].rpartition(":")
    servers.require("Kafka", host, int(port))
    return str(legato_settings.kafka.bootstrap)


@pytest.fixture(scope="session")
def redis_url(legato_settings: Any) -> str:
    parts = urlsplit(legato_settings.redis.url)
    servers.require("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return str(legato_settings.redis.url)


@pytest.fixture(scope="session")
def cassandra_session(legato_settings: Any) -> Iterator[Any]:
    from legato.adapters.cassandra import connect

    cs = legato_settings.cassandra
    servers.require("Cassandra", cs.hosts[0], cs.port)
    cluster, session = connect(cs)
    yield session
    cluster.shutdown()


@pytest.fixture(scope="module")
def cassandra_keyspace(cassandra_session: Any) -> Iterator[str]:
    """A fresh keyspace with every migration applied; dropped afterwards."""
    from legato import migrations

    name = servers.unique("t")
    migrations.apply(cassandra_session, name)
    yield name
    cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {name}")


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    return servers.unique
