"""Pausing a run: no new step starts, running steps finish and record, timers that
come due wait for ``resume`` and fire then; status says ``paused``."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

import legato
import legato.testing
from legato.runtime.errors import RunNotFoundError, RunStateError
from legato.schemas import RunPaused, RunResumed, StepCompleted

CALLS: Counter[str] = Counter()
GATE: dict[str, asyncio.Event] = {}


async def count(ctx: legato.StepContext) -> Any:
    CALLS[ctx.step_id] += 1
    return ctx.input


async def gated(ctx: legato.StepContext) -> Any:
    CALLS[ctx.step_id] += 1
    GATE["started"].set()
    await GATE["go"].wait()
    return "slow"


async def flaky(ctx: legato.StepContext) -> Any:
    CALLS[f"{ctx.step_id}@{ctx.attempt}"] += 1
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return "ok"


NODES = legato.NodeCatalog()
NODES.update({"count": count, "gated": gated, "flaky": flaky})


@pytest.fixture(autouse=True)
def fresh() -> None:
    CALLS.clear()
    GATE.clear()


def chain(first: dict[str, Any], name: str) -> legato.Registry:
    return legato.compile(
        legato.parse_blueprint(
            {
                "id": name,
                "nodes": [{"id": "first", **first}, {"id": "after", "uses": "count"}],
                "edges": [{"source": "first", "target": "after"}],
            }
        ),
        NODES,
    )


async def test_a_sleep_due_while_paused_fires_on_resume() -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    reg = chain({"uses": "legato.sleep", "params": {"seconds": 30}}, "nap")
    rid = await engine.start(reg, 7)
    pump = legato.testing.Pump(engine)
    await pump.run()  # the sleep is parked on its timer
    await engine.pause(rid, "maintenance")
    assert (await engine.status(rid)).status == "paused"
    await clock.advance(60)  # the timer fires: its job is held, not run
    await legato.testing.settle()
    assert await pump.run() >= 1
    assert (await engine.status(rid)).status == "paused"
    assert "first" not in await engine.backend.store.all_steps(rid)
    assert await engine.resume(rid) >= 1
    await pump.run()
    result = await engine.result(await engine.status(rid))
    assert result.status == "completed"
    assert result.outputs == {"first": 7, "after": 7}
    kinds = [type(e) for e in await engine.history(rid)]
    assert kinds.index(RunPaused) < kinds.index(RunResumed)


async def test_a_retry_due_while_paused_runs_on_resume() -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    retry = {"max_attempts": 2, "initial_delay": 5, "jitter": 0}
    reg = chain({"uses": "flaky", "config": {"retry": retry}}, "flaky")
    rid = await engine.start(reg, None)
    pump = legato.testing.Pump(engine)
    await pump.run()  # attempt 1 failed; attempt 2 waits on a timer
    await engine.pause(rid)
    await clock.advance(10)
    await legato.testing.settle()
    await pump.run()
    assert CALLS["first@2"] == 0  # held
    await engine.resume(rid)
    await pump.run()
    assert CALLS["first@2"] == 1
    assert (await engine.status(rid)).status == "completed"


async def test_a_running_step_finishes_and_records_but_its_successor_waits() -> None:
    GATE.update(started=asyncio.Event(), go=asyncio.Event())
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(chain({"uses": "gated"}, "gated"), None)
    pump = legato.testing.Pump(engine)
    running = asyncio.create_task(pump.step())
    await GATE["started"].wait()
    await engine.pause(rid)
    GATE["go"].set()
    await running
    steps = await engine.backend.store.all_steps(rid)
    assert steps["first"].output == "slow"  # recorded while paused
    await pump.run()  # the successor's job is held
    assert CALLS["after"] == 0
    assert (await engine.status(rid)).status == "paused"
    await engine.resume(rid)
    await pump.run()
    assert CALLS["after"] == 1
    assert (await engine.status(rid)).status == "completed"


async def test_redelivered_held_jobs_run_once_after_resume() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(chain({"uses": "count"}, "dup"), 1)
    await engine.pause(rid)
    pump = legato.testing.Pump(engine)
    jobs = list(pump.collect())
    pump.queue.clear()
    for job in jobs * 3:  # redelivered while paused: held once
        await pump.handle(job)
    assert len(await engine.backend.store.held_jobs(rid)) == 1
    await engine.resume(rid)
    released = list(pump.collect())
    pump.queue.clear()
    for job in released * 2:
        await pump.handle(job)
    await pump.run()
    assert dict(CALLS) == {"first": 1, "after": 1}
    assert (await engine.status(rid)).status == "completed"
    assert await engine.backend.store.held_jobs(rid) == []


async def test_a_signal_sent_while_paused_is_consumed_on_resume() -> None:
    engine = legato.Engine(legato.testing.backend())
    reg = chain({"uses": "legato.wait_for_signal", "params": {"signal": "go"}}, "sig")
    rid = await engine.start(reg, None)
    pump = legato.testing.Pump(engine)
    await pump.run()
    await engine.pause(rid)
    assert await engine.signal(rid, "go", "yes")
    await pump.run()
    assert "first" not in await engine.backend.store.all_steps(rid)
    await engine.resume(rid)
    await pump.run()
    result = await engine.result(await engine.status(rid))
    assert result.outputs == {"first": "yes", "after": "yes"}
    assert [e.step_id for e in await engine.history(rid) if isinstance(e, StepCompleted)] == [
        "first",
        "after",
    ]


async def test_pause_and_resume_refuse_runs_where_they_do_not_apply() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(chain({"uses": "count"}, "states"), 1)
    with pytest.raises(RunNotFoundError):
        await engine.pause("no-such-run")
    with pytest.raises(RunNotFoundError):
        await engine.resume("no-such-run")
    with pytest.raises(RunStateError, match="not paused"):
        await engine.resume(rid)
    await engine.pause(rid)
    with pytest.raises(RunStateError, match="not running"):
        await engine.pause(rid)
    assert await engine.cancel(rid, "no longer needed")  # a paused run can be cancelled
    with pytest.raises(RunStateError, match="cancelled"):
        await engine.resume(rid)
    history = await engine.history(rid)
    assert sum(isinstance(e, RunPaused) for e in history) == 1
    assert (await engine.status(rid)).status == "cancelled"


async def test_wait_does_not_return_for_a_paused_run() -> None:
    async with legato.Engine() as engine:
        engine.start_workers()
        reg = chain({"uses": "legato.wait_for_signal", "params": {"signal": "go"}}, "w")
        rid = await engine.start(reg, None)
        await engine.pause(rid)
        waiting = asyncio.create_task(engine.wait(rid, timeout=10))
        await legato.testing.settle()
        assert not waiting.done()
        await engine.resume(rid)
        await engine.signal(rid, "go", 1)
        assert (await waiting).status == "completed"


async def test_a_resume_between_reading_paused_and_holding_loses_no_job() -> None:
    """The holder read ``paused``; the run is resumed (nothing held yet) before the
    job is kept: the holder sees ``running`` again and publishes the job itself."""
    from legato.adapters.memory import MemoryRunStore
    from legato.schemas import Job

    class Racing(MemoryRunStore):
        engine: legato.Engine

        async def hold_job(self, run_id: str, job: Job) -> None:
            if (await self.get_run(run_id)).status == "paused":  # type: ignore[union-attr]
                assert await self.engine.resume(run_id) == 0
            await super().hold_job(run_id, job)

    store = Racing()
    engine = legato.Engine(legato.testing.backend(store=store))
    store.engine = engine
    rid = await engine.start(chain({"uses": "count"}, "race"), 1)
    await engine.pause(rid)
    await legato.testing.Pump(engine).run()
    assert (await engine.status(rid)).status == "completed"
    assert dict(CALLS) == {"first": 1, "after": 1}


async def test_heartbeats_let_a_running_step_of_a_paused_run_finish() -> None:
    """A pause made elsewhere (only the store changes) does not stop the running
    step at its heartbeats, as a cancel does; it finishes and records."""
    from legato.schemas import RunPaused

    GATE.update(started=asyncio.Event(), go=asyncio.Event())
    clock = legato.testing.FakeClock()
    backend = legato.testing.backend(clock)
    engine = legato.Engine(backend, heartbeat_interval=1.0, lease_ttl=5.0)
    rid = await engine.start(chain({"uses": "gated"}, "beat"), None)
    pump = legato.testing.Pump(engine)
    running = asyncio.create_task(pump.step())
    await GATE["started"].wait()
    assert await backend.store.set_status(rid, "running", "paused", RunPaused(at=clock.now()))
    for _ in range(5):  # heartbeats come and go while the run is paused
        await clock.advance(1.0)
    assert not running.done()
    GATE["go"].set()
    await running
    assert (await backend.store.all_steps(rid))["first"].output == "slow"
