"""Failures: retries with backoff, non-retryable errors, timeouts, fallbacks, run
failure stopping the run, cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import legato
from legato.runtime.outcomes import backoff_delay
from legato.schemas import RunFailed, StepFailed

FAST = legato.Retry(max_attempts=3, initial_delay=0.01, multiplier=2.0, max_delay=0.02, jitter=0.0)


async def run_with_history(flow: legato.Flow, value: Any = None) -> tuple[legato.RunResult, list]:
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        return result, await engine.backend.store.history(result.run_id)


def failures(history: list) -> list[tuple[str, str, int, str, bool]]:
    return [
        (e.step_id, e.node, e.attempt, e.error, e.retry_at is not None)
        for e in history
        if isinstance(e, StepFailed)
    ]


async def test_retries_until_success_with_attempt_numbers() -> None:
    attempts: list[int] = []

    async def flaky(ctx: legato.StepContext) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise legato.StepError(f"try {ctx.attempt}")
        return ctx.attempt

    flow = legato.Flow("retry").node("a", flaky, retry=FAST)
    result, history = await run_with_history(flow)
    assert (result.status, result.outputs) == ("completed", {"a": 3})
    assert attempts == [1, 2, 3]
    assert failures(history) == [("a", "a", 1, "try 1", True), ("a", "a", 2, "try 2", True)]
    f1, f2 = (e for e in history if isinstance(e, StepFailed))
    assert f1.retry_at is not None and f2.retry_at is not None
    assert f1.retry_at - f1.at == pytest.approx(0.01, abs=1e-6)  # initial_delay
    assert f2.retry_at - f2.at == pytest.approx(0.02, abs=1e-6)  # * multiplier


async def test_exhausted_retries_fail_the_run_naming_the_step() -> None:
    attempts: list[int] = []

    async def bad(ctx: legato.StepContext) -> int:
        attempts.append(ctx.attempt)
        raise legato.StepError("still broken")

    flow = legato.Flow("exhaust").node("a", bad, retry=FAST)
    result, history = await run_with_history(flow)
    assert attempts == [1, 2, 3]
    assert (result.status, result.error) == ("failed", "step a failed: still broken")
    assert [f[2:] for f in failures(history)] == [
        (1, "still broken", True),
        (2, "still broken", True),
        (3, "still broken", False),
    ]
    [end] = [e for e in history if isinstance(e, RunFailed)]
    assert (end.step_id, end.error) == ("a", "step a failed: still broken")


@pytest.mark.parametrize(
    "error",
    [legato.NonRetryableError("no point"), legato.StepError("no point", retryable=False)],
    ids=["NonRetryableError", "StepError-retryable-False"],
)
async def test_non_retryable_errors_stop_retries(error: Exception) -> None:
    attempts: list[int] = []

    async def bad(ctx: legato.StepContext) -> int:
        attempts.append(ctx.attempt)
        raise error

    result, history = await run_with_history(legato.Flow("nr").node("a", bad, retry=FAST))
    assert attempts == [1]
    assert (result.status, result.error) == ("failed", "step a failed: no point")
    assert failures(history) == [("a", "a", 1, "no point", False)]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    reg = legato.compile(
        legato.Flow("b").node(
            "a",
            abs,
            retry=legato.Retry(initial_delay=1, multiplier=3, max_delay=5, jitter=0.5),
        )
    )
    node = reg.nodes["a"]
    assert [backoff_delay(node.retry, n, lambda: 0.5) for n in (1, 2, 3)] == [1.0, 3.0, 5.0]
    assert backoff_delay(node.retry, 1, lambda: 0.0) == 0.5
    assert backoff_delay(node.retry, 1, lambda: 1.0) == 1.5


async def test_a_timeout_fails_the_attempt_and_is_retried() -> None:
    attempts: list[int] = []

    async def slow_once(ctx: legato.StepContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(10)
        return "ok"

    flow = legato.Flow("timeout").node("a", slow_once, timeout=0.05, retry=FAST)
    result, history = await run_with_history(flow)
    assert (result.status, result.outputs) == ("completed", {"a": "ok"})
    assert attempts == [1, 2]
    assert failures(history) == [("a", "a", 1, "step a timed out after 0.05s", True)]


async def test_a_timeout_without_retries_fails_the_run() -> None:
    async def hang(ctx: legato.StepContext) -> None:
        await asyncio.sleep(10)

    result, _ = await run_with_history(legato.Flow("t").node("a", hang, timeout=0.02))
    assert (result.status, result.error) == (
        "failed",
        "step a failed: step a timed out after 0.02s",
    )


async def test_a_fallback_gets_the_error_and_its_output_routes_on() -> None:
    seen: dict[str, Any] = {}

    async def bad(ctx: legato.StepContext) -> int:
        raise legato.NonRetryableError("primary down")

    async def fb(ctx: legato.StepContext) -> legato.Result:
        seen.update(error=ctx.error, input=ctx.input, step=ctx.step_id, node=ctx.node_id)
        return legato.Result("cached", action="degraded")

    async def echo(ctx: legato.StepContext) -> Any:
        return ctx.input

    flow = (
        legato.Flow("fb")
        .node("a", bad, fallback="backup")
        .node("backup", fb)
        .node("ok", echo)
        .node("deg", echo)
        .edge("a", "ok", action="ok")
        .edge("a", "deg", action="degraded")
    )
    result, history = await run_with_history(flow, 41)
    assert result.status == "completed"
    assert result.outputs == {"a": "cached", "deg": "cached"}
    assert seen == {"error": "primary down", "input": 41, "step": "a", "node": "backup"}
    assert failures(history) == [("a", "a", 1, "primary down", False)]


async def test_a_failing_fallback_fails_the_run() -> None:
    async def bad(ctx: legato.StepContext) -> int:
        raise legato.NonRetryableError("primary down")

    async def worse(ctx: legato.StepContext) -> int:
        raise legato.NonRetryableError("backup down")

    flow = legato.Flow("fbf").node("a", bad, fallback="b").node("b", worse)
    result, history = await run_with_history(flow)
    assert (result.status, result.error) == ("failed", "step a failed: primary down")
    assert failures(history) == [
        ("a", "a", 1, "primary down", False),
        ("a", "b", 1, "backup down", False),
    ]


async def test_a_failed_run_stops_scheduling_other_branches() -> None:
    started: list[str] = []
    failed = asyncio.Event()

    async def bad(ctx: legato.StepContext) -> int:
        started.append(ctx.step_id)
        raise legato.NonRetryableError("broken")

    async def slow(ctx: legato.StepContext) -> int:
        started.append(ctx.step_id)
        await failed.wait()
        return 1

    async def after(ctx: legato.StepContext) -> int:
        started.append(ctx.step_id)
        return 2

    flow = (
        legato.Flow("stop")
        .node("bad", bad)
        .node("slow", slow)
        .node("next", after)
        .node("next2", after)
        .edge("slow", "next")
        .edge("next", "next2")
    )
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
        failed.set()
        # Let the slow branch finish and try to route on: nothing may start.
        for _ in range(20):
            await asyncio.sleep(0)
        await asyncio.sleep(0.02)
        header = await engine.status(result.run_id)
    assert (result.status, result.error) == ("failed", "step bad failed: broken")
    assert header.status == "failed"
    assert "next" not in started and "next2" not in started


async def test_cancellation_stops_new_steps() -> None:
    started: list[str] = []
    gate = asyncio.Event()
    running = asyncio.Event()

    async def first(ctx: legato.StepContext) -> int:
        started.append(ctx.step_id)
        running.set()
        await gate.wait()
        return 1

    async def later(ctx: legato.StepContext) -> int:
        started.append(ctx.step_id)
        return 2

    flow = legato.Flow("cancel").node("a", first).node("b", later).edge("a", "b")
    async with legato.Engine() as engine:
        rid = await engine.start(legato.compile(flow), None)
        engine.start_workers()
        await asyncio.wait_for(running.wait(), 5)
        assert await engine.cancel(rid, "stop")
        assert not await engine.cancel(rid, "again")  # already ended
        gate.set()
        result = await engine.wait(rid, timeout=5)
        await asyncio.sleep(0.02)
        header = await engine.status(rid)
    assert (result.status, result.error) == ("cancelled", "stop")
    assert header.status == "cancelled"
    assert started == ["a"]
    assert "b" not in result.outputs


async def test_an_unexpected_exception_names_its_type_and_place() -> None:
    async def bad(ctx: legato.StepContext) -> int:
        return {}["missing"]  # type: ignore[no-any-return]

    result, _ = await run_with_history(legato.Flow("ke").node("a", bad))
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith("step a failed: KeyError: 'missing' (at ")
    assert "test_failures.py:" in result.error
