"""Sleeps and signal waits park on durable timers; no worker sleeps."""

from __future__ import annotations

import asyncio
import time

import pytest

import legato
from legato.schemas import RunCancelled, SignalReceived, StepCompleted, StepWaiting


async def echo(ctx: legato.StepContext) -> object:
    return ctx.input


async def rejected(ctx: legato.StepContext) -> str:
    return f"auto-rejected: {ctx.error}"


NODES = legato.NodeCatalog()
NODES.update({"echo": echo, "rejected": rejected})


def approval(timeout: float) -> legato.Registry:
    return legato.compile(
        legato.parse_blueprint(
            {
                "id": "approval",
                "nodes": [
                    {"id": "ask", "uses": "echo"},
                    {
                        "id": "wait",
                        "uses": "legato.wait_for_signal",
                        "params": {"signal": "approval"},
                        "config": {"timeout": timeout, "fallback": "reject"},
                    },
                    {"id": "reject", "uses": "rejected"},
                    {"id": "done", "uses": "echo"},
                ],
                "edges": [
                    {"source": "ask", "target": "wait"},
                    {"source": "wait", "target": "done"},
                ],
            }
        ),
        NODES,
    )


async def until_waiting(engine: legato.Engine, run_id: str) -> None:
    for _ in range(2000):
        if any(isinstance(e, StepWaiting) for e in await engine.backend.store.history(run_id)):
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the step never waited")


async def test_a_signal_resumes_the_waiting_step_with_its_data() -> None:
    async with legato.Engine() as engine:
        engine.start_workers()
        rid = await engine.start(approval(timeout=30), "please")
        await until_waiting(engine, rid)
        assert engine.worker.leases.in_flight() == 0  # nothing sleeps meanwhile
        assert await engine.signal(rid, "approval", {"by": "ann"})
        result = await engine.wait(rid, timeout=2)
    assert result.status == "completed"
    assert result.outputs["wait"] == {"by": "ann"}
    assert result.outputs["done"] == {"by": "ann"}


async def test_a_signal_sent_before_the_wait_is_kept() -> None:
    async with legato.Engine() as engine:
        reg = approval(timeout=30)
        await engine.register(reg)
        rid = await engine.start(reg, "please")  # no worker yet: nothing waits
        assert await engine.signal(rid, "approval", {"by": "bob"})
        assert await engine.signal(rid, "approval", {"by": "eve"})  # queued behind bob's
        engine.start_workers()
        result = await engine.wait(rid, timeout=2)
        history = await engine.backend.store.history(rid)
    assert result.outputs["wait"] == {"by": "bob"}  # the oldest one
    received = [e for e in history if isinstance(e, SignalReceived)]
    assert [e.data for e in received] == [{"by": "bob"}, {"by": "eve"}]
    (waited,) = [e for e in history if isinstance(e, StepCompleted) and e.step_id == "wait"]
    assert (waited.signal, waited.signal_id) == ("approval", received[0].id)


async def test_no_signal_within_the_timeout_runs_the_fallback() -> None:
    async with legato.Engine() as engine:
        result = await engine.run(approval(timeout=0.05), "please", timeout=2)
    assert result.status == "completed"
    assert result.outputs["wait"].startswith("auto-rejected: no signal 'approval' within")


async def test_sleep_waits_on_a_timer_and_passes_its_input_on() -> None:
    reg = legato.compile(
        legato.parse_blueprint(
            {
                "id": "nap",
                "nodes": [
                    {"id": "nap", "uses": "legato.sleep", "params": {"seconds": 0.1}},
                    {"id": "after", "uses": "echo"},
                ],
                "edges": [{"source": "nap", "target": "after"}],
            }
        ),
        NODES,
    )
    started = time.time()
    async with legato.Engine() as engine:
        result = await engine.run(reg, 7, timeout=2)
        history = await engine.backend.store.history(result.run_id)
    assert time.time() - started >= 0.1
    assert result.outputs == {"nap": 7, "after": 7}
    waiting = [e for e in history if isinstance(e, StepWaiting)]
    completed = [e for e in history if isinstance(e, StepCompleted) and e.step_id == "nap"]
    assert len(waiting) == 1 and waiting[0].until is not None
    assert len(completed) == 1 and completed[0].at >= waiting[0].until - 0.001


async def test_cancelling_a_sleeping_run_drops_its_timer() -> None:
    reg = legato.compile(
        legato.parse_blueprint(
            {
                "id": "long_nap",
                "nodes": [
                    {"id": "nap", "uses": "legato.sleep", "params": {"seconds": 0.3}},
                    {"id": "after", "uses": "echo"},
                ],
                "edges": [{"source": "nap", "target": "after"}],
            }
        ),
        NODES,
    )
    async with legato.Engine() as engine:
        engine.start_workers()
        rid = await engine.start(reg, 1)
        for _ in range(200):  # until the sleep is parked on its timer
            if any(isinstance(e, StepWaiting) for e in await engine.backend.store.history(rid)):
                break
            await asyncio.sleep(0.005)
        assert await engine.backend.timers.drop_run("another-run") == 0
        assert len(engine.backend.timers._handles) == 1  # type: ignore[attr-defined]
        assert await engine.cancel(rid, "no more waiting")
        assert await engine.backend.timers.drop_run(rid) == 0  # cancel dropped it already
        await asyncio.sleep(0.4)
        history = await engine.backend.store.history(rid)
    assert isinstance(history[-1], RunCancelled)  # the timer never fired
    assert not any(isinstance(e, StepCompleted) for e in history)


async def test_sleep_until_a_past_instant_does_not_wait() -> None:
    reg = legato.compile(
        legato.parse_blueprint(
            {
                "id": "past",
                "nodes": [
                    {
                        "id": "nap",
                        "uses": "legato.sleep",
                        "params": {"until": "2020-01-01T00:00:00Z"},
                    }
                ],
            }
        )
    )
    result = await legato.run(reg, "x", timeout=2)
    assert result.outputs == {"nap": "x"}


@pytest.mark.parametrize(
    ("uses", "params", "problems"),
    [
        ("legato.sleep", {}, ["nodes[0].params: give exactly one of `seconds` or `until`"]),
        ("legato.sleep", {"seconds": -1}, ["nodes[0].params.seconds: must be a number >= 0"]),
        (
            "legato.sleep",
            {"until": "soon"},
            ["nodes[0].params.until: must be an ISO 8601 instant or unix seconds"],
        ),
        (
            "legato.wait_for_signal",
            {"key": 3, "sig": "x"},
            [
                "nodes[0].params.signal: the signal name (a non-empty string) is required",
                "nodes[0].params.key: must be a string",
                "nodes[0].params.sig: unknown parameter",
            ],
        ),
    ],
)
def test_builtin_params_are_checked(
    uses: str, params: dict[str, object], problems: list[str]
) -> None:
    with pytest.raises(legato.BlueprintError) as err:
        legato.compile(
            legato.parse_blueprint(
                {"id": "b", "nodes": [{"id": "n", "uses": uses, "params": params}]}
            )
        )
    assert [str(p) for p in err.value.problems] == problems
