"""Signals of one name to one run form a FIFO queue: each wait (every loop iteration
included) consumes the oldest signal no step has consumed, exactly once, whatever
the redeliveries; the history says which step consumed which signal."""

from __future__ import annotations

import asyncio
from typing import Any

import legato
import legato.testing
from legato.schemas import SignalReceived, StepCompleted, StepWaiting


async def echo(ctx: legato.StepContext) -> Any:
    return ctx.input


NODES = legato.NodeCatalog()
NODES.update({"echo": echo})


def rework_loop() -> legato.Registry:
    """Approve again after rework: the wait loops until a signal says ok."""
    return legato.compile(
        legato.parse_blueprint(
            {
                "id": "rework",
                "nodes": [
                    {
                        "id": "review",
                        "uses": "legato.wait_for_signal",
                        "params": {"signal": "approval"},
                    },
                    {"id": "done", "uses": "echo"},
                ],
                "edges": [
                    {
                        "source": "review",
                        "target": "review",
                        "condition": "!output.ok",
                        "loop": {"max_iterations": 5},
                    },
                    {"source": "review", "target": "done"},
                ],
            }
        ),
        NODES,
    )


def two_waits() -> legato.Registry:
    """Two parallel branches wait for the same signal name."""
    return legato.compile(
        legato.parse_blueprint(
            {
                "id": "two_waits",
                "nodes": [
                    {"id": "start", "uses": "echo"},
                    {"id": "left", "uses": "legato.wait_for_signal", "params": {"signal": "go"}},
                    {"id": "right", "uses": "legato.wait_for_signal", "params": {"signal": "go"}},
                    {"id": "join", "uses": "echo"},
                ],
                "edges": [
                    {"source": "start", "target": "left"},
                    {"source": "start", "target": "right"},
                    {"source": "left", "target": "join"},
                    {"source": "right", "target": "join"},
                ],
            }
        ),
        NODES,
    )


async def until_waiting(engine: legato.Engine, run_id: str, step_id: str) -> None:
    for _ in range(5000):
        history = await engine.history(run_id)
        if any(isinstance(e, StepWaiting) and e.step_id == step_id for e in history):
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"{step_id} never waited")


def consumptions(history: list[Any]) -> dict[str, Any]:
    """signal id -> the step that consumed it (an id twice fails the test)."""
    out: dict[str, Any] = {}
    for e in history:
        if isinstance(e, StepCompleted) and e.signal_id is not None:
            assert e.signal_id not in out, f"signal {e.signal_id} consumed twice"
            out[e.signal_id] = e.step_id
    return out


async def test_each_loop_iteration_consumes_the_next_signal_sent_before_any_wait() -> None:
    engine = legato.Engine(legato.testing.backend())
    reg = rework_loop()
    rid = await engine.start(reg, None)
    for verdict in (False, False, True, True):  # all before any wait; the last stays queued
        assert await engine.signal(rid, "approval", {"ok": verdict})
    await legato.testing.Pump(engine).run()
    result = await engine.result(await engine.status(rid))
    history = await engine.history(rid)
    assert result.status == "completed"
    assert [result.outputs[f"review#{i}"] for i in range(3)] == [
        {"ok": False},
        {"ok": False},
        {"ok": True},
    ]
    ids = [e.id for e in history if isinstance(e, SignalReceived)]
    assert consumptions(history) == {ids[0]: "review#0", ids[1]: "review#1", ids[2]: "review#2"}
    assert await engine.backend.store.next_signal(rid, "approval") == (ids[3], {"ok": True})


async def test_signals_sent_while_the_loop_waits_resume_it_in_order() -> None:
    async with legato.Engine() as engine:
        engine.start_workers()
        rid = await engine.start(rework_loop(), None)
        for i, verdict in enumerate((False, True)):
            await until_waiting(engine, rid, f"review#{i}")
            assert await engine.signal(rid, "approval", {"ok": verdict, "n": i})
        result = await engine.wait(rid, timeout=5)
    assert result.outputs["review#0"] == {"ok": False, "n": 0}
    assert result.outputs["review#1"] == {"ok": True, "n": 1}
    assert result.outputs["done"] == {"ok": True, "n": 1}


async def test_redelivered_jobs_consume_each_signal_once() -> None:
    """Every job is handled again after each new one (a worst-case at-least-once bus),
    and the signals arrive between jobs: still one signal per wait, in order."""
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(rework_loop(), None)
    pump = legato.testing.Pump(engine)
    verdicts = [False, False, False, True]
    handled: list[Any] = []
    for _ in range(2000):
        if not pump.collect():
            if not verdicts:
                break
            await engine.signal(rid, "approval", {"ok": verdicts.pop(0)})
            continue
        job = pump.queue.pop(0)
        if job in handled:  # re-driven by an earlier redelivery: a duplicate delivery
            await pump.handle(job)
            continue
        handled.append(job)
        for j in [job, *handled]:  # the new job, then every earlier one again
            await pump.handle(j)
    history = await engine.history(rid)
    assert (await engine.status(rid)).status == "completed"
    ids = [e.id for e in history if isinstance(e, SignalReceived)]
    assert consumptions(history) == {sid: f"review#{i}" for i, sid in enumerate(ids)}
    assert await engine.backend.store.next_signal(rid, "approval") is None


async def test_two_waits_on_one_name_take_distinct_signals() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(two_waits(), None)
    pump = legato.testing.Pump(engine)
    await pump.run()
    assert await engine.signal(rid, "go", "first")
    # Both waits are woken; handle their jobs twice each, interleaved.
    jobs = list(pump.collect())
    pump.queue.clear()
    for job in jobs + jobs:
        await pump.handle(job)
    await pump.run()
    history = await engine.history(rid)
    assert len(consumptions(history)) == 1
    assert (await engine.status(rid)).status == "running"  # the other one still waits
    assert await engine.signal(rid, "go", "second")
    await pump.run()
    result = await engine.result(await engine.status(rid))
    assert result.status == "completed"
    assert sorted([result.outputs["left"], result.outputs["right"]]) == ["first", "second"]
    assert len(consumptions(await engine.history(rid))) == 2


async def test_a_dedupe_key_makes_sending_idempotent() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(rework_loop(), None)
    assert await engine.signal(rid, "approval", {"ok": False}, dedupe="cmd-1")
    assert not await engine.signal(rid, "approval", {"ok": False}, dedupe="cmd-1")
    assert await engine.signal(rid, "approval", {"ok": True}, dedupe="cmd-2")
    await legato.testing.Pump(engine).run()
    result = await engine.result(await engine.status(rid))
    assert result.status == "completed" and "review#2" not in result.outputs
