"""Replaying a run's history reproduces its state: the store's step records, the
header's status and error, and the run's final context."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import legato
from legato.runtime.history import RunState, StepState, fold
from legato.schemas import (
    RunFailed,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepSkipped,
)

FAST = legato.Retry(max_attempts=3, initial_delay=0.01, multiplier=1.0, jitter=0.0)


async def inc(ctx: legato.StepContext) -> int:
    return int(ctx.input or 0) + 1


async def total(ctx: legato.StepContext) -> int:
    return sum(ctx.input.values())


async def pick(ctx: legato.StepContext) -> legato.Result:
    return legato.Result(ctx.input, action="even" if ctx.input % 2 == 0 else "odd")


async def write(ctx: legato.StepContext) -> int:
    ctx.context.set("who", ctx.step_id)
    ctx.context.set(f"k_{ctx.node_id}", ctx.iteration)
    return int(ctx.input or 0) + 1


async def boom(ctx: legato.StepContext) -> int:
    raise RuntimeError("boom")


async def flaky(ctx: legato.StepContext) -> int:
    if ctx.attempt < 3:
        raise RuntimeError(f"attempt {ctx.attempt}")
    return ctx.attempt


async def fails_last(ctx: legato.StepContext) -> int:
    ctx.context.set("who", ctx.step_id)
    if ctx.iteration == 2:
        raise legato.NonRetryableError("third time")
    return ctx.iteration


async def mark(ctx: legato.StepContext) -> Any:
    ctx.context.set("who", ctx.step_id)
    return ctx.input


async def rescue(ctx: legato.StepContext) -> str:
    return f"rescued: {ctx.error}"


async def echo(ctx: legato.StepContext) -> Any:
    return ctx.input


def shapes() -> dict[str, tuple[legato.Flow, Any]]:
    branch = (
        legato.Flow("branch")
        .node("p", pick)
        .node("e", inc)
        .node("o", inc)
        .node("j", total)
        .node("tail", inc)
        .edge("p", "e", action="even")
        .edge("p", "o", action="odd")
        .edge("e", "j")
        .edge("o", "j")
        .edge("j", "tail", condition="output > 100")
    )
    diamond = (
        legato.Flow("diamond")
        .node("s", write)
        .node("l", write)
        .node("r", write)
        .node("j", total)
        .node("first", inc, join="any")
        .edge("s", "l")
        .edge("s", "r")
        .edge("l", "j")
        .edge("r", "j")
        .edge("l", "first")
        .edge("r", "first")
    )
    loop = (
        legato.Flow("loop")
        .node("start", write)
        .node("body", write)
        .node("check", fails_last, fallback="fb")
        .node("fb", rescue)
        .node("after", mark)
        .edge("start", "body")
        .edge("body", "check")
        .edge("check", "body", loop=True, condition="iteration < 2")
        .edge("check", "after")
    )
    retried = (
        legato.Flow("retried")
        .node("a", flaky, retry=FAST)
        .node("b", boom, fallback="fb")
        .node("fb", rescue)
        .node("c", echo)
        .edge("a", "b")
        .edge("b", "c")
    )
    failing = (
        legato.Flow("failing")
        .node("a", write)
        .node("b", boom, retry=FAST)
        .node("c", inc)
        .edge("a", "b")
        .edge("b", "c")
    )
    fallback_fails = (
        legato.Flow("fbfail")
        .node("a", boom, retry=FAST, fallback="fb")
        .node("fb", boom)
        .node("c", inc)
        .edge("a", "c")
    )
    return {
        "branch-even": (branch, 2),
        "branch-odd": (branch, 3),
        "diamond": (diamond, 1),
        "loop": (loop, 0),
        "retried": (retried, None),
        "failing": (failing, 0),
        "fallback-fails": (fallback_fails, None),
    }


def record_view(st: StepState) -> tuple[Any, ...]:
    return (st.status, st.node, st.output, st.action, st.skipped, st.looped, st.fallback)


async def replay(engine: legato.Engine, result: legato.RunResult) -> RunState:
    store = engine.backend.store
    header = await store.get_run(result.run_id)
    assert header is not None
    reg = await engine.registries.get(header.blueprint_id, header.version)
    state = fold(await store.history(result.run_id), reg)
    records = await store.all_steps(result.run_id)
    resolved = {s: st for s, st in state.steps.items() if st.status in ("done", "skipped")}
    assert {s: record_view(st) for s, st in resolved.items()} == {
        s: (r.status, r.node, r.output, r.action, r.skipped, r.looped, r.fallback)
        for s, r in records.items()
    }
    for s, r in records.items():
        if r.status == "done":
            assert state.steps[s].attempts == r.attempt
    assert (state.status, state.error) == (header.status, header.error)
    assert (state.run_id, state.blueprint_id, state.version) == (
        result.run_id,
        header.blueprint_id,
        header.version,
    )
    assert state.input == header.input
    assert state.outputs == result.outputs
    assert state.context == result.context
    return state


@pytest.mark.parametrize("shape", sorted(shapes()))
async def test_history_replays_to_the_stored_state(shape: str) -> None:
    flow, value = shapes()[shape]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        await replay(engine, result)


async def test_replay_of_a_branch_names_taken_edges_and_skips() -> None:
    flow, value = shapes()["branch-even"]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        state = await replay(engine, result)
    assert result.status == "completed"
    assert state.steps["p"].taken == ("e",)
    assert state.steps["p"].skipped == ("o",)
    assert state.steps["j"].taken == ()
    assert {s: st.status for s, st in state.steps.items()} == {
        "p": "done",
        "e": "done",
        "o": "skipped",
        "j": "done",
        "tail": "skipped",
    }


async def test_replay_of_a_loop_with_a_fallback_on_its_last_node() -> None:
    flow, value = shapes()["loop"]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        state = await replay(engine, result)
    assert result.status == "completed"
    assert state.steps["check#0"].looped and state.steps["check#0"].taken == ("body",)
    assert state.steps["check"].taken == ("after",)
    assert state.steps["check"].fallback == "fb"
    assert result.outputs["check"] == "rescued: third time"
    assert state.context["who"] == "after"


async def test_replay_of_retries_and_a_fallback() -> None:
    flow, value = shapes()["retried"]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        state = await replay(engine, result)
    assert result.status == "completed"
    assert result.outputs["a"] == 3
    assert result.outputs["b"].startswith("rescued: RuntimeError: boom (at ")
    assert result.outputs["c"] == result.outputs["b"]
    a = state.steps["a"]
    assert (a.status, a.attempts) == ("done", 3)
    assert a.last_error is not None and a.last_error.startswith("RuntimeError: attempt 2 (at ")
    b = state.steps["b"]
    assert (b.status, b.fallback, b.attempts) == ("done", "fb", 1)
    assert b.last_error is not None and b.last_error.startswith("RuntimeError: boom")


async def test_replay_of_a_failed_run_keeps_the_failed_step() -> None:
    flow, value = shapes()["failing"]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        state = await replay(engine, result)
    assert result.status == "failed"
    b = state.steps["b"]
    assert (b.status, b.attempts) == ("failed", 3)
    assert "c" not in state.steps


async def test_replay_of_a_failed_fallback_keeps_the_attempts() -> None:
    flow, value = shapes()["fallback-fails"]
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        state = await replay(engine, result)
    a = state.steps["a"]
    assert (a.status, a.attempts, a.fallback) == ("failed", 3, "fb")
    assert result.status == "failed"


async def test_replay_of_a_cancelled_run() -> None:
    started = asyncio.Event()

    async def slow(ctx: legato.StepContext) -> int:
        started.set()
        await asyncio.sleep(5)
        return 0

    flow = legato.Flow("cancel").node("a", inc).node("s", slow).edge("a", "s")
    async with legato.Engine() as engine:
        rid = await engine.start(legato.compile(flow), 0)
        engine.start_workers()
        await asyncio.wait_for(started.wait(), 5)
        assert await engine.cancel(rid, "changed my mind")
        result = await engine.wait(rid, timeout=5)
        state = await replay(engine, result)
    assert (state.status, state.error) == ("cancelled", "changed my mind")
    assert result.outputs == {"a": 1}


def test_fold_without_a_registry_and_first_resolution_wins() -> None:
    events = [
        RunStarted(at=1, run_id="r", blueprint_id="b", version="2", input={"x": 1}),
        StepFailed(at=2, step_id="a", node="a", attempt=1, error="e1", retry_at=3.0),
        StepCompleted(at=4, step_id="a", node="a", attempt=2, output=5, context={"k": 1}),
        StepCompleted(at=5, step_id="a", node="a", attempt=3, output=6),
        StepSkipped(at=6, step_id="a", node="a"),
        StepSkipped(at=7, step_id="b", node="b"),
        RunFailed(at=8, error="step c failed: x", step_id="c"),
    ]
    state = fold(events)
    assert state.steps == {
        "a": StepState("done", "a", 5, attempts=2, last_error="e1"),
        "b": StepState("skipped", "b"),
    }
    assert (state.run_id, state.blueprint_id, state.version, state.input) == (
        "r",
        "b",
        "2",
        {"x": 1},
    )
    assert (state.status, state.error) == ("failed", "step c failed: x")
    assert state.context == {}  # resolving the context needs the registry
