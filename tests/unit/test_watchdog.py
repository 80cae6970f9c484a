"""A timed step's durable watchdog: if the worker running the step dies, the step
runs again once its timeout and lease have passed, without waiting for the
reconciler; a step that ended meanwhile is left alone."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import legato
import legato.testing
from legato.adapters.memory import memory_backend

runs: Counter[str] = Counter()


async def count(ctx: legato.StepContext) -> str:
    runs[f"{ctx.run_id}/{ctx.step_id}"] += 1
    if ctx.node_id == "slow_b":
        await asyncio.sleep(1.2)  # outlives a's watchdog
    return ctx.node_id


def flow(name: str, b: str = "b") -> legato.Registry:
    return legato.compile(
        legato.Flow(name).node("a", count, timeout=0.1).node(b, count).edge("a", b)
    )


async def test_the_watchdog_resumes_a_step_whose_worker_died() -> None:
    backend = memory_backend()
    reg = flow("watched")
    async with legato.Engine(backend, lease_ttl=0.2) as engine:
        rid = await engine.start(reg, None)
        # A worker takes a's job, arms its watchdog, holds its lease, and dies.
        (job,) = legato.testing.Pump(engine).collect()
        assert job.step_id == "a"
        assert (await backend.coordinator.acquire_lease(rid, "a", "dead-worker", 0.2)).token
        await engine.worker.core.attempts.arm_watchdog(reg.nodes["a"], job, time.time())
        engine.start_workers()
        result = await engine.wait(rid, timeout=5)
    assert result.status == "completed"
    assert runs[f"{rid}/a"] == 1 and runs[f"{rid}/b"] == 1


async def test_the_watchdog_of_a_finished_step_does_nothing() -> None:
    backend = memory_backend()
    reg = flow("unwatched", b="slow_b")
    async with legato.Engine(backend, lease_ttl=0.2) as engine:
        engine.start_workers()
        rid = await engine.start(reg, None)
        result = await engine.wait(rid, timeout=5)  # a's watchdog fired while b ran
        history = await backend.store.history(rid)
    assert result.status == "completed"
    assert runs[f"{rid}/a"] == 1 and runs[f"{rid}/slow_b"] == 1
    assert [type(e).__name__ for e in history].count("StepCompleted") == 2
