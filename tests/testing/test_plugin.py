"""legato.testing for users: the fixtures, and the README's example."""

from __future__ import annotations

from typing import Any

import pytest

import legato
import legato.testing

RETRY = legato.Retry(max_attempts=3, initial_delay=30.0, multiplier=2.0, jitter=0.0)


def flaky_flow(attempts: list[int]) -> legato.Flow:
    async def flaky(ctx: legato.StepContext) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("not yet")
        return ctx.input["n"] + 1

    return (
        legato.Flow("plugin")
        .node("flaky", flaky, retry=RETRY)
        .node("nap", "legato.sleep", params={"seconds": 3600})
        .edge("flaky", "nap")
    )


async def test_run_blueprint_moves_fake_time_through_retries_and_sleeps(
    run_blueprint: Any, legato_clock: legato.testing.FakeClock
) -> None:
    attempts: list[int] = []
    start = legato_clock.now()
    result = await run_blueprint(flaky_flow(attempts), {"n": 1})
    assert (result.status, result.outputs) == ("completed", {"flaky": 2, "nap": 2})
    assert attempts == [1, 2, 3]
    assert legato_clock.now() - start == pytest.approx(30 + 60 + 3600, abs=0.01)


async def test_run_blueprint_says_when_a_run_waits_for_nothing(run_blueprint: Any) -> None:
    flow = legato.Flow("stuck").node("w", "legato.wait_for_signal", params={"signal": "x"})
    with pytest.raises(TimeoutError, match="waits for something no timer brings"):
        await run_blueprint(flow)


async def test_the_readme_example(
    legato_engine: legato.Engine, legato_clock: legato.testing.FakeClock
) -> None:
    attempts: list[int] = []
    engine = legato_engine
    run_id = await engine.start(legato.compile(flaky_flow(attempts)), {"n": 1})
    pump = legato.testing.Pump(engine)
    await pump.run()
    assert attempts == [1]
    await legato_clock.advance(30)  # the first retry's backoff
    await pump.run()
    assert attempts == [1, 2]
    await legato_clock.advance(60)  # the second's
    await pump.run()
    assert attempts == [1, 2, 3]
    assert (await engine.status(run_id)).status == "running"  # nap sleeps an hour
    await legato_clock.advance(3600)
    await pump.run()
    assert (await engine.status(run_id)).status == "completed"
