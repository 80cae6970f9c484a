"""The JobBus contract. Subclass ``JobBusContract`` and give a ``make_bus`` fixture:
a factory of buses on one shared topic (each call a new consumer of one group)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from legato.schemas import Job


def job(i: int, run: str = "r") -> Job:
    return Job(run, f"s{i}", f"s{i}", "bp", "1")


async def take(bus: Any, n: int, timeout: float = 20.0) -> list[Any]:
    """The first ``n`` deliveries of ``bus``."""
    got: list[Any] = []

    async def collect() -> None:
        async for d in bus.consume():
            got.append(d)
            if len(got) == n:
                return

    await asyncio.wait_for(collect(), timeout)
    return got


class JobBusContract:
    """Every published job is delivered; a run's jobs in order; headers are declared."""

    async def test_a_delivery_says_when_its_job_was_published(self, make_bus: Any) -> None:
        bus = make_bus()
        before = time.time()
        await bus.publish([job(0, run="stamped")])
        after = time.time()
        (d,) = await take(bus, 1)
        await d.ack()
        assert d.published_at is None or before - 0.002 <= d.published_at <= after + 0.002
        assert d.published_at is not None  # both Legato buses know it

    async def test_publish_then_consume_everything(self, make_bus: Any) -> None:
        bus = make_bus()
        jobs = [job(i, run=f"run{i % 4}") for i in range(30)]
        await bus.publish(jobs)
        got = await take(bus, 30)
        for d in got:
            await d.ack()
        assert sorted(d.job.step_id for d in got) == sorted(j.step_id for j in jobs)
        assert {d.job for d in got} == set(jobs)
        assert all(d.headers is None or isinstance(d.headers, dict) for d in got)

    async def test_jobs_of_one_run_keep_their_order(self, make_bus: Any) -> None:
        bus = make_bus()
        jobs = [job(i, run="same-run") for i in range(20)]
        await bus.publish(jobs)
        got = await take(bus, 20)
        assert [d.job for d in got] == jobs

    async def test_a_bus_answers_its_probe(self, make_bus: Any) -> None:
        assert await make_bus().probe() is None
