"""A duplicate job that saw its step unresolved, then got the lease after the first
handler finished, must not run the step again (Kafka redelivers; real stores and
coordinators suspend between the check and the lease)."""

from __future__ import annotations

import asyncio
from typing import Any

import legato
import legato.testing
from legato.adapters.memory import MemoryCoordinator


class GatedCoordinator(MemoryCoordinator):
    """The second lease request waits until ``open`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.requests = 0

    async def acquire_lease(self, run_id: str, step_id: str, owner: str, ttl: float) -> Any:
        self.requests += 1
        if self.requests == 2:
            await self.open.wait()
        return await super().acquire_lease(run_id, step_id, owner, ttl)


async def test_a_duplicate_that_gets_the_lease_late_does_not_run_the_step_again() -> None:
    calls: list[str] = []

    async def work(ctx: legato.StepContext) -> int:
        calls.append(ctx.step_id)
        await asyncio.sleep(0.01)
        return 7

    reg = legato.compile(legato.Flow("dup").node("a", work))
    coordinator = GatedCoordinator()
    engine = legato.Engine(legato.testing.backend(coordinator=coordinator))
    rid = await engine.start(reg, None)
    (job,) = legato.testing.Pump(engine).collect()
    assert job.run_id == rid

    async def first() -> None:
        await engine.handle(job)
        coordinator.open.set()

    await asyncio.gather(first(), engine.handle(job))
    assert calls == ["a"]
    assert (await engine.status(rid)).status == "completed"
