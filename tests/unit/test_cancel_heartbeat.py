"""Cancellation reaches running steps; heartbeats keep a long step's lease."""

from __future__ import annotations

import asyncio

import legato
from legato.adapters.memory import memory_backend
from legato.schemas import RunCancelled, StepCompleted

seen: dict[str, object] = {}


async def slow(ctx: legato.StepContext) -> str:
    seen["started"] = ctx.step_id
    try:
        await asyncio.sleep(30)
    finally:
        seen["cancelled_flag"] = ctx.cancelled
    return "never"


async def after(ctx: legato.StepContext) -> str:
    seen["after"] = True
    return "ran"


def flow() -> legato.Registry:
    return legato.compile(
        legato.Flow("cancel").node("slow", slow).node("after", after).edge("slow", "after")
    )


async def wait_for(key: str) -> None:
    for _ in range(1000):
        if key in seen:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{key} never happened")


async def test_cancel_stops_the_running_step_and_its_successors() -> None:
    seen.clear()
    engine = legato.Engine()
    async with engine:
        engine.start_workers()
        rid = await engine.start(flow(), None)
        await wait_for("started")
        assert await engine.cancel(rid, "user asked")
        await wait_for("cancelled_flag")
        result = await engine.wait(rid, timeout=1)
        history = await engine.backend.store.history(rid)
    assert seen["cancelled_flag"] is True
    assert "after" not in seen
    assert result.status == "cancelled"
    assert result.error == "user asked"
    assert not [e for e in history if isinstance(e, StepCompleted)]
    assert isinstance(history[-1], RunCancelled)


async def test_heartbeat_notices_a_cancel_made_elsewhere() -> None:
    seen.clear()
    backend = memory_backend()
    engine = legato.Engine(backend, heartbeat_interval=0.02)
    async with engine:
        engine.start_workers()
        rid = await engine.start(flow(), None)
        await wait_for("started")
        # Another process cancels: only the history changes, nothing is said to this one.
        await backend.store.finish_run(rid, "cancelled", RunCancelled(at=0.0), None)
        await wait_for("cancelled_flag")
    assert seen["cancelled_flag"] is True
    assert "after" not in seen


async def test_heartbeat_renews_the_lease_of_a_long_step() -> None:
    seen.clear()
    backend = memory_backend()
    engine = legato.Engine(backend, heartbeat_interval=0.02, lease_ttl=0.06)
    async with engine:
        engine.start_workers()
        rid = await engine.start(flow(), None)
        await wait_for("started")
        await asyncio.sleep(0.2)  # several lease lifetimes
        other = await backend.coordinator.acquire_lease(rid, "slow", "other-worker", 1.0)
        assert other.token is None
        await engine.cancel(rid)
    # Without heartbeats the lease would have expired and the other worker got it.
    stale = memory_backend()
    token = (await stale.coordinator.acquire_lease("r", "s", "w1", 0.01)).token
    await asyncio.sleep(0.03)
    assert token is not None
    assert (await stale.coordinator.acquire_lease("r", "s", "w2", 1.0)).token == token + 1
    assert not await stale.coordinator.renew_lease("r", "s", token, 1.0)
