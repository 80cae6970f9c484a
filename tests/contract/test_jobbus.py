"""The JobBus contract (memory, Kafka) and Kafka's delivery guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from legato.adapters.memory import MemoryJobBus
from legato.schemas import Job


def job(i: int, run: str = "r") -> Job:
    return Job(run, f"s{i}", f"s{i}", "bp", "1")


async def take(bus: Any, n: int, timeout: float = 20.0) -> list[Any]:
    got: list[Any] = []

    async def collect() -> None:
        async for d in bus.consume():
            got.append(d)
            if len(got) == n:
                return

    await asyncio.wait_for(collect(), timeout)
    return got


@pytest.fixture(params=["memory", "kafka"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A factory of buses on one shared topic and consumer group."""
    made: list[Any] = []
    if request.param == "memory":
        shared = MemoryJobBus()

        def memory() -> Any:
            return shared

        yield memory
        return
    request.applymarker(pytest.mark.integration)
    from dataclasses import replace

    from legato.adapters.kafka import KafkaJobBus, apply_topics
    from legato.config import KafkaSettings
    from tests.servers import unique

    bootstrap = request.getfixturevalue("kafka_bootstrap")
    name = unique("jobs")
    settings = replace(
        KafkaSettings(bootstrap=bootstrap),
        jobs_topic=name,
        commands_topic=name + ".cmd",
        deadletter_topic=name + ".dlq",
        partitions=3,
        group=unique("g"),
    )
    apply_topics(settings)

    def kafka() -> Any:
        bus = KafkaJobBus(settings)
        made.append(bus)
        return bus

    yield kafka
    for bus in made:
        await bus.close()


async def test_publish_then_consume_everything(make_bus: Any) -> None:
    bus = make_bus()
    jobs = [job(i, run=f"run{i % 4}") for i in range(30)]
    await bus.publish(jobs)
    got = await take(bus, 30)
    for d in got:
        await d.ack()
    assert sorted(d.job.step_id for d in got) == sorted(j.step_id for j in jobs)
    assert {d.job for d in got} == set(jobs)


async def test_jobs_of_one_run_keep_their_order(make_bus: Any) -> None:
    bus = make_bus()
    jobs = [job(i, run="same-run") for i in range(20)]
    await bus.publish(jobs)
    got = await take(bus, 20)
    assert [d.job for d in got] == jobs
