"""The contract suites of ``legato.testing.contract`` on the real servers: the
Cassandra store and timers, the Redis coordinator (``join.lua`` is held to the join
rule case by case), the Kafka bus. Marked ``integration``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from legato.adapters.memory import MemoryJobBus
from legato.adapters.redis import keys
from legato.testing.contract import (
    CoordinatorContract,
    JobBusContract,
    RunStoreContract,
    TimerHarness,
    TimersContract,
)
from tests.servers import unique

pytestmark = pytest.mark.integration


class TestCassandraRunStore(RunStoreContract):
    @pytest.fixture
    async def store(self, cassandra_session: Any, cassandra_keyspace: str) -> Any:
        from legato.adapters.cassandra.store import CassandraRunStore

        return await CassandraRunStore.open(cassandra_session, cassandra_keyspace)


class TestRedisCoordinator(CoordinatorContract):
    @pytest.fixture
    async def coordinator(self, redis_url: str) -> AsyncIterator[Any]:
        from legato.adapters.redis import RedisCoordinator

        coord = RedisCoordinator.from_url(redis_url, prefix=unique("test") + ":")
        # Data that began an hour ago (not a loss a moment ago: see keys.born).
        await coord.client.set(keys.born(coord.prefix), int((time.time() - 3600) * 1000))
        yield coord
        await coord.close()

    @pytest.fixture
    def lose_data(self, coordinator: Any) -> Callable[[], Any]:
        async def lose() -> None:  # a flush, of this test's keys only
            keys = [k async for k in coordinator.client.scan_iter(match=coordinator.prefix + "*")]
            if keys:
                await coordinator.client.delete(*keys)

        return lose


class TestKafkaJobBus(JobBusContract):
    @pytest.fixture
    async def make_bus(self, kafka_bootstrap: str) -> AsyncIterator[Callable[[], Any]]:
        from legato.adapters.kafka import KafkaJobBus, apply_topics
        from legato.config import KafkaSettings

        name = unique("jobs")
        settings = replace(
            KafkaSettings(bootstrap=kafka_bootstrap),
            jobs_topic=name,
            commands_topic=name + ".cmd",
            deadletter_topic=name + ".dlq",
            partitions=3,
            group=unique("g"),
        )
        apply_topics(settings)
        made: list[Any] = []

        def kafka() -> Any:
            bus = KafkaJobBus(settings)
            made.append(bus)
            return bus

        yield kafka
        for bus in made:
            await bus.close()


class TestCassandraTimers(TimersContract):
    @pytest.fixture
    async def timers(self, cassandra_session: Any, cassandra_keyspace: str) -> TimerHarness:
        from legato.adapters.cassandra.timers import CassandraTimers

        timers = await CassandraTimers.open(cassandra_session, cassandra_keyspace)
        return TimerHarness(timers, MemoryJobBus())
