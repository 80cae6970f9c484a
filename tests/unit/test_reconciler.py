"""The reconciler resumes runs whose jobs, timers or join state were lost."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

import legato
import legato.testing
from legato.adapters.memory import MemoryCoordinator, MemoryJobBus, MemoryTimers
from legato.reconciler import Reconciler
from legato.runtime.ports import Backend
from legato.schemas import Job


class LossyBus(MemoryJobBus):
    """Drops a seeded share of published jobs, as a crash between the history
    write and the publish would."""

    def __init__(self, drop: float, seed: int) -> None:
        super().__init__()
        self.drop = drop
        self.rng = random.Random(seed)
        self.dropped = 0

    async def publish(self, jobs: Sequence[Job]) -> None:
        kept = [j for j in jobs if self.rng.random() >= self.drop]
        self.dropped += len(jobs) - len(kept)
        await super().publish(kept)


def lossy_backend(drop: float, seed: int) -> tuple[Backend, LossyBus, MemoryCoordinator]:
    bus = LossyBus(drop, seed)
    coord = MemoryCoordinator()
    backend = legato.testing.backend(bus=bus, coordinator=coord, timers=MemoryTimers(bus))
    return backend, bus, coord


calls: dict[str, int] = {}


async def count(ctx: legato.StepContext) -> int:
    calls[f"{ctx.run_id}/{ctx.step_id}"] = calls.get(f"{ctx.run_id}/{ctx.step_id}", 0) + 1
    return (ctx.input if isinstance(ctx.input, int) else 0) + 1


async def total(ctx: legato.StepContext) -> int:
    await count(ctx)
    return sum(ctx.input.values())


def diamond_with_loop() -> legato.Registry:
    flow = legato.Flow("recon").node("a", count).node("join", total).node("end", count)
    for b in ("b1", "b2", "b3"):
        flow.node(b, count).edge("a", b).edge(b, "join")
    flow.node("h", count).node("t", count)
    flow.edge("join", "h").edge("h", "t").edge("t", "h", loop=True, condition="output < 12")
    flow.edge("t", "end")
    return legato.compile(flow)


async def settle(bus: MemoryJobBus) -> None:
    for _ in range(200):
        await asyncio.sleep(0)
    for _ in range(10_000):
        if not bus.pending():
            break
        await asyncio.sleep(0.001)
    for _ in range(200):
        await asyncio.sleep(0)


@pytest.mark.parametrize("seed", range(6))
async def test_lost_jobs_are_resumed_and_nothing_runs_twice(seed: int) -> None:
    reg = diamond_with_loop()
    clean = await legato.run(reg, 0)
    backend, bus, _ = lossy_backend(drop=0.3, seed=seed)
    async with legato.Engine(backend) as engine:
        engine.start_workers()
        run_ids = [await engine.start(reg, 0) for _ in range(5)]
        reconciler = Reconciler(engine.backend, stalled_after=0)
        passes = 0
        while passes < 50:
            await settle(bus)
            if not (await backend.store.list_active()).headers:
                break
            bus.drop = 0.3 if passes < 3 else 0.0
            await reconciler.run_once()
            passes += 1
        results = [await engine.wait(r, timeout=5) for r in run_ids]
    assert bus.dropped > 0
    for res in results:
        assert res.status == "completed"
        assert res.outputs == clean.outputs
        executed = {k: v for k, v in calls.items() if k.startswith(res.run_id)}
        assert set(executed.values()) == {1}, executed
        assert len(executed) == len([s for s in res.outputs if s != "t"])


async def test_lost_join_state_is_rebuilt_from_history() -> None:
    reg = diamond_with_loop()
    backend, bus, coord = lossy_backend(drop=0.0, seed=0)
    async with legato.Engine(backend) as engine:
        # Let b1..b3 complete, lose the join's arrivals, and lose the join's job.
        bus.drop = 1.0
        engine.start_workers()
        rid = await engine.start(reg, 0)
        bus.drop = 0.0
        await settle(bus)  # 'a' was dropped at start: nothing ran yet
        stats = await Reconciler(engine.backend, stalled_after=0).run_once()
        assert (stats.scanned, stats.stalled, stats.resumed, stats.jobs) == (1, 1, 1, 1)
        bus.drop = 1.0  # b1..b3 run, but their successor job is lost
        await settle(bus)
        coord._joins.clear()  # and Redis forgot the arrivals
        bus.drop = 0.0
        assert (await backend.store.get_run(rid)).status == "running"  # type: ignore[union-attr]
        for _ in range(10):
            await Reconciler(engine.backend, stalled_after=0).run_once()
            await settle(bus)
            if not (await backend.store.list_active()).headers:
                break
        res = await engine.wait(rid, timeout=5)
    assert res.status == "completed"
    assert res.outputs["join"] == 6
    assert (
        sum(1 for e in await backend.store.history(rid) if getattr(e, "step_id", "") == "join") == 1
    )


async def test_fresh_runs_are_not_touched() -> None:
    reg = diamond_with_loop()
    backend, _, _ = lossy_backend(drop=1.0, seed=0)
    async with legato.Engine(backend) as engine:
        await engine.start(reg, 0)
        stats = await Reconciler(engine.backend, stalled_after=3600).run_once()
    assert stats.to_dict() == {
        "scanned": 1,
        "stalled": 0,
        "resumed": 0,
        "failed": 0,
        "jobs": 0,
        "leased": 0,
        "parked": 0,
        "errors": 0,
    }


async def test_a_step_whose_lease_is_live_is_left_alone() -> None:
    reg = diamond_with_loop()
    backend, bus, coord = lossy_backend(drop=1.0, seed=0)  # 'a' is lost at start
    async with legato.Engine(backend) as engine:
        rid = await engine.start(reg, 0)
        bus.drop = 0.0
        # A worker runs 'a' for longer than the stall threshold, and heartbeats.
        token = (await coord.acquire_lease(rid, "a", "busy-worker", ttl=30)).token
        assert token is not None
        reconciler = Reconciler(engine.backend, stalled_after=0)
        stats = await reconciler.run_once()
        assert (stats.stalled, stats.jobs, stats.leased) == (1, 0, 1)
        assert not bus.pending()
        # The worker dies: once its lease is gone, the step is enqueued again (at the
        # run's recheck time: until then it is parked, its history not read again).
        await coord.release_lease(rid, "a", token)
        stats = await reconciler.run_once()
        assert (stats.stalled, stats.parked, stats.jobs) == (1, 1, 0)
        stats = await Reconciler(engine.backend, stalled_after=0, parking=False).run_once()
        assert (stats.jobs, stats.leased) == (1, 0)
        assert bus.pending()
