"""Fixtures for the distributed tests: settings with fresh topics, keyspace and prefix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from legato.adapters.kafka import apply_topics
from legato.config import Settings


@pytest.fixture(scope="module")
def dist_settings(
    legato_settings: Settings, cassandra_keyspace: str, kafka_bootstrap: str, redis_url: str
) -> Settings:
    from tests.servers import unique

    name = unique("legato")
    kafka = replace(
        legato_settings.kafka,
        jobs_topic=name + ".jobs",  # type: ignore[arg-type]
        commands_topic=name + ".commands",
        deadletter_topic=name + ".dlq",
        partitions=4,
        group=name,
    )
    apply_topics(kafka)
    return Settings(
        kafka,
        replace(
            legato_settings.cassandra,  # type: ignore[arg-type]
            keyspace=cassandra_keyspace,
        ),
        replace(legato_settings.redis, prefix=name + ":"),
    )  # type: ignore[arg-type]
