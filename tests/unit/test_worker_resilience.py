"""Workers wait out lost servers and never drop a job they cannot run yet."""

from __future__ import annotations

import asyncio
from typing import Any

import legato
import legato.testing
from legato.adapters.memory import MemoryRunStore
from legato.runtime.errors import BackendUnavailableError
from legato.schemas import RunHeader


async def inc(ctx: legato.StepContext) -> int:
    return (ctx.input or 0) + 1


def chain() -> legato.Registry:
    return legato.compile(legato.Flow("c").node("a", inc).node("b", inc).edge("a", "b"))


async def test_a_lost_server_is_waited_out_and_the_run_completes() -> None:
    store = legato.testing.Faults(MemoryRunStore())
    store.fail("read_step", BackendUnavailableError("cassandra: no host available"), times=5)
    engine = legato.Engine(
        legato.testing.backend(store=store), concurrency=1, backoff_initial=0.001
    )
    async with engine:
        result = await engine.run(chain(), 1, timeout=5)
    assert store.calls["read_step"] == 5 + 2  # five outages, then a and b
    assert result.status == "completed"
    assert result.outputs == {"a": 2, "b": 3}


async def test_unknown_blueprint_is_reenqueued_then_run_by_a_worker_that_has_it() -> None:
    reg = chain()
    engine = legato.Engine(redelivery_delay=0.01)
    async with engine:
        engine.start_workers()
        await engine.backend.blueprints.put_blueprint(reg.blueprint)
        # This worker cannot compile it: the node functions are not importable by name.
        rid = await _start_without_registering(engine, reg)
        for _ in range(200):
            history = await engine.backend.store.history(rid)
            if (await engine.status(rid)).status != "running" or len(history) > 3:
                break
            await _tick()
        assert (await engine.status(rid)).status == "running"  # kept, not dropped
        engine.registries.add(reg)  # now a worker has the implementation
        result = await engine.wait(rid, timeout=5)
    assert result.status == "completed"
    assert result.outputs == {"a": 2, "b": 3}


async def test_unknown_blueprint_fails_the_run_clearly_in_the_end() -> None:
    reg = chain()
    engine = legato.Engine(redelivery_delay=0.001, max_redeliveries=3)
    async with engine:
        engine.start_workers()
        await engine.backend.blueprints.put_blueprint(reg.blueprint)
        rid = await _start_without_registering(engine, reg)
        result = await engine.wait(rid, timeout=5)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("step a could not run on any worker: blueprint 'c' version '1'")


async def _start_without_registering(engine: legato.Engine, reg: legato.Registry) -> str:
    from legato.schemas import Job, RunStarted

    header = RunHeader("r1", reg.id, reg.version, "running", 1, None, 0.0, 0.0)
    await engine.backend.store.create_run(
        header, RunStarted(at=0.0, run_id="r1", blueprint_id=reg.id, version="1")
    )
    await engine.backend.bus.publish([Job("r1", "a", "a", reg.id, reg.version)])
    return "r1"


async def _tick() -> Any:
    import asyncio

    await asyncio.sleep(0.005)


async def test_stop_cancels_again_a_task_that_absorbed_a_cancellation() -> None:
    """A consumer task that swallowed one cancel (as a step converting its run's end
    into its own outcome can) must not make stopping hang."""
    engine = legato.Engine()
    engine.start_workers()
    absorbed = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            absorbed.append(1)  # swallowed: carries on as if nothing happened
        await asyncio.sleep(3600)

    engine.worker._tasks.append(asyncio.create_task(stubborn()))
    await asyncio.sleep(0)
    await asyncio.wait_for(engine.close(), timeout=10)
    assert absorbed == [1]
