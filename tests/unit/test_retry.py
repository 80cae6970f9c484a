"""Retrying a failed or cancelled run: the failed step (or ``--from`` STEP) and what
follows run again, upstream outputs stand, the run id stays, history says so."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import legato
import legato.testing
from legato.reconciler.retry import UnknownStepError
from legato.runtime.errors import RunNotFoundError, RunStateError
from legato.runtime.history import fold
from legato.schemas import RunRetried

CALLS: Counter[str] = Counter()
BROKEN: set[str] = set()


def node(name: str) -> Any:
    async def fn(ctx: legato.StepContext) -> Any:
        CALLS[ctx.step_id] += 1
        if name in BROKEN:
            raise legato.NonRetryableError(f"{name} is broken")
        ctx.context.set(name, CALLS[ctx.step_id])
        return f"{name}{CALLS[ctx.step_id]}"

    return fn


@pytest.fixture(autouse=True)
def fresh() -> None:
    CALLS.clear()
    BROKEN.clear()


def pipeline() -> legato.Registry:
    flow = legato.Flow("retryable")
    for n in ("extract", "transform", "load"):
        flow = flow.node(n, node(n))
    return legato.compile(flow.edge("extract", "transform").edge("transform", "load"))


async def run_to_end(engine: legato.Engine, rid: str) -> legato.RunResult:
    await legato.testing.Pump(engine).run()
    return await engine.result(await engine.status(rid))


async def test_a_failed_run_retries_from_the_failed_step() -> None:
    engine = legato.Engine(legato.testing.backend())
    client = legato.Client(engine.backend)
    reg = pipeline()
    BROKEN.add("transform")
    rid = await engine.start(reg, None)
    assert (await run_to_end(engine, rid)).status == "failed"
    BROKEN.clear()  # fixed
    event = await client.retry(rid)
    assert event.reset == ("transform",) and event.previous == "failed"
    result = await run_to_end(engine, rid)
    assert result.run_id == rid and result.status == "completed"
    assert result.outputs == {"extract": "extract1", "transform": "transform2", "load": "load1"}
    assert CALLS["extract"] == 1  # upstream kept its output
    history = await engine.history(rid)
    assert sum(isinstance(e, RunRetried) for e in history) == 1
    # The history replays to the store's records.
    state = fold(history, reg)
    records = await engine.backend.store.all_steps(rid)
    assert {s: st.record() for s, st in state.steps.items() if st.resolved} == records


async def test_retry_from_a_step_reruns_it_and_everything_downstream() -> None:
    engine = legato.Engine(legato.testing.backend())
    client = legato.Client(engine.backend)
    rid = await engine.start(pipeline(), None)
    await run_to_end(engine, rid)
    assert not await engine.cancel(rid)  # it ended; a completed run is not retried
    with pytest.raises(RunStateError, match="completed"):
        await client.retry(rid, "transform")
    BROKEN.add("load")
    CALLS.clear()
    rid2 = await engine.start(pipeline(), None)
    assert (await run_to_end(engine, rid2)).status == "failed"
    BROKEN.clear()
    event = await client.retry(rid2, "transform")
    assert set(event.reset) == {"transform", "load"}
    result = await run_to_end(engine, rid2)
    assert result.outputs["transform"] == "transform2" and result.outputs["load"] == "load2"
    assert result.outputs["extract"] == "extract1"
    assert result.context == {"extract": 1, "transform": 2, "load": 2}


async def test_a_cancelled_run_can_be_retried() -> None:
    engine = legato.Engine(legato.testing.backend())
    client = legato.Client(engine.backend)
    rid = await engine.start(pipeline(), None)
    pump = legato.testing.Pump(engine)
    await pump.step()  # extract
    assert await engine.cancel(rid, "oops")
    await pump.run()
    await client.retry(rid)
    result = await run_to_end(engine, rid)
    assert result.status == "completed"
    assert dict(CALLS) == {"extract": 1, "transform": 1, "load": 1}


async def test_retry_refuses_what_it_cannot_do_and_changes_nothing() -> None:
    engine = legato.Engine(legato.testing.backend())
    client = legato.Client(engine.backend)
    with pytest.raises(RunNotFoundError):
        await client.retry("no-such-run")
    rid = await engine.start(pipeline(), None)
    with pytest.raises(RunStateError, match="running"):
        await client.retry(rid)
    BROKEN.add("extract")
    await run_to_end(engine, rid)
    before = await engine.history(rid)
    with pytest.raises(UnknownStepError, match="nope"):
        await client.retry(rid, "nope")
    assert await engine.history(rid) == before
    assert (await engine.status(rid)).status == "failed"
