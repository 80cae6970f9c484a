"""The RunStore and BlueprintStore contract, for every implementation."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from legato.runtime.errors import RunNotFoundError
from legato.schemas import (
    Blueprint,
    ContextWrite,
    Job,
    Node,
    RunCancelled,
    RunCompleted,
    RunHeader,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)


async def new_run(store: Any, value: Any = None) -> str:
    rid = uuid.uuid4().hex
    now = time.time()
    header = RunHeader(rid, "bp", "1", "running", value, None, now, now)
    assert await store.create_run(
        header, RunStarted(at=now, run_id=rid, blueprint_id="bp", version="1", input=value)
    )
    return rid


def done(node: str, output: Any, skipped: tuple[str, ...] = ()) -> StepRecord:
    return StepRecord("done", node, output, None, skipped)


def completed(step: str, output: Any) -> StepCompleted:
    return StepCompleted(at=time.time(), step_id=step, node=step, attempt=1, output=output)


async def test_create_get_and_create_twice(store: Any) -> None:
    rid = await new_run(store, {"x": [1, 2]})
    header = await store.get_run(rid)
    assert (header.run_id, header.blueprint_id, header.version, header.status, header.input) == (
        rid,
        "bp",
        "1",
        "running",
        {"x": [1, 2]},
    )
    again = RunHeader(rid, "other", "2", "running", None, None, 0.0, 0.0)
    assert not await store.create_run(
        again, RunStarted(at=0.0, run_id=rid, blueprint_id="o", version="2")
    )
    assert (await store.get_run(rid)).blueprint_id == "bp"
    assert await store.get_run("no-such-run") is None


async def test_header_and_steps_in_one_read(store: Any) -> None:
    rid = await new_run(store, [7])
    await store.resolve_step(rid, "a", done("a", 1), completed("a", 1))
    await store.resolve_step(rid, "b", done("b", 2), completed("b", 2))
    header, steps = await store.get_run_steps(rid, ["a", "c"])
    assert (header.run_id, header.status, header.input) == (rid, "running", [7])
    assert steps == {"a": done("a", 1)}
    header, steps = await store.get_run_steps(rid, [])  # a start node: header only
    assert header.blueprint_id == "bp" and steps == {}
    assert await store.get_run_steps("no-such-run", ["a"]) == (None, {})
    assert await store.all_steps(rid) == {"a": done("a", 1), "b": done("b", 2)}
    await store.finish_run(rid, "cancelled", RunCancelled(at=time.time()), "stop")
    assert (await store.get_run_steps(rid, ["a"]))[0].status == "cancelled"


async def test_first_resolution_wins(store: Any) -> None:
    rid = await new_run(store)
    first = await store.resolve_step(
        rid, "a", done("a", 1, ("b",)), completed("a", 1), [ContextWrite("k", "a", "v1")]
    )
    second = await store.resolve_step(
        rid, "a", done("a", 2), completed("a", 2), [ContextWrite("k", "a", "v2")]
    )
    assert first == second == done("a", 1, ("b",))
    assert await store.get_steps(rid, ["a", "missing"]) == {"a": done("a", 1, ("b",))}
    history = await store.history(rid)
    assert [type(e) for e in history] == [RunStarted, StepCompleted]
    assert (await store.get_context(rid, ["k"]))["k"] == [ContextWrite("k", "a", "v1")]


async def test_context_writes_of_parallel_steps_are_all_kept(store: Any) -> None:
    rid = await new_run(store)
    await asyncio.gather(
        store.resolve_step(
            rid,
            "b1",
            done("b1", 1),
            completed("b1", 1),
            [ContextWrite("k", "b1", 1), ContextWrite("only_b1", "b1", True)],
        ),
        store.resolve_step(
            rid, "b2", done("b2", 2), completed("b2", 2), [ContextWrite("k", "b2", 2)]
        ),
    )
    got = await store.get_context(rid, ["k", "only_b1", "never"])
    assert sorted((w.step_id, w.value) for w in got["k"]) == [("b1", 1), ("b2", 2)]
    assert got["only_b1"] == [ContextWrite("only_b1", "b1", True)]
    assert "never" not in got
    assert set(await store.all_context(rid)) == {"k", "only_b1"}


async def test_skips_failures_and_history_order(store: Any) -> None:
    rid = await new_run(store)
    await store.record_failure(
        rid,
        StepFailed(
            at=time.time(), step_id="a", node="a", attempt=1, error="boom", retry_at=time.time()
        ),
    )
    await store.resolve_step(rid, "a", done("a", 3), completed("a", 3))
    await store.resolve_step(
        rid, "b", StepRecord("skipped", "b"), StepSkipped(at=time.time(), step_id="b", node="b")
    )
    kinds = [type(e).__name__ for e in await store.history(rid)]
    assert kinds == ["RunStarted", "StepFailed", "StepCompleted", "StepSkipped"]
    steps = await store.all_steps(rid)
    assert steps["b"].status == "skipped" and steps["a"].output == 3


async def test_finish_only_from_running(store: Any) -> None:
    rid = await new_run(store)
    assert rid in {h.run_id for h in await store.list_active()}
    assert await store.finish_run(rid, "cancelled", RunCancelled(at=time.time()), "stop")
    assert not await store.finish_run(rid, "completed", RunCompleted(at=time.time()), None)
    header = await store.get_run(rid)
    assert (header.status, header.error) == ("cancelled", "stop")
    assert rid not in {h.run_id for h in await store.list_active()}
    assert (await store.wait_finished(rid, 1.0)).status == "cancelled"
    with pytest.raises(RunNotFoundError):
        await store.finish_run("no-such-run", "failed", RunCompleted(at=0.0), None)


async def test_wait_finished_times_out_while_running(store: Any) -> None:
    rid = await new_run(store)
    with pytest.raises(TimeoutError):
        await store.wait_finished(rid, 0.1)


async def test_progress_updates_updated_at(store: Any) -> None:
    rid = await new_run(store)
    before = (await store.get_run(rid)).updated_at
    later = StepCompleted(at=before + 100, step_id="a", node="a", attempt=1, output=None)
    await store.resolve_step(rid, "a", done("a", None), later)
    assert (await store.get_run(rid)).updated_at == pytest.approx(before + 100, abs=0.01)


async def test_signals_first_wins_and_waiters(store: Any) -> None:
    rid = await new_run(store)
    assert await store.get_signal(rid, "go") == (False, None)
    job = Job(rid, "w", "w", "bp", "1")
    await store.add_waiter(rid, "go", job)
    await store.add_waiter(rid, "go", job)  # idempotent per step
    assert await store.get_waiters(rid, "go") == [job]
    assert await store.put_signal(rid, "go", {"ok": 1}, SignalReceived(at=0.0, name="go"))
    assert not await store.put_signal(rid, "go", {"ok": 2}, SignalReceived(at=0.0, name="go"))
    assert await store.get_signal(rid, "go") == (True, {"ok": 1})


async def test_blueprints_by_version(store: Any) -> None:
    bid = uuid.uuid4().hex
    v1 = Blueprint(id=bid, version="1", nodes=(Node(id="a", uses="m:f"),))
    v2 = Blueprint(id=bid, version="2", nodes=(Node(id="b", uses="m:g"),))
    await store.put_blueprint(v1)
    await store.put_blueprint(v2)
    assert await store.get_blueprint(bid, "1") == v1
    assert await store.get_blueprint(bid, "2") == v2
    assert await store.get_blueprint(bid, "3") is None


async def test_resolving_a_step_of_an_unknown_run_fails(store: Any) -> None:
    with pytest.raises(RunNotFoundError):
        await store.resolve_step("no-such-run", "a", done("a", 1), completed("a", 1))
    with pytest.raises(RunNotFoundError):
        await store.history("no-such-run")
    assert await store.get_run("no-such-run") is None


async def test_concurrent_resolutions_of_one_step_record_one(store: Any) -> None:
    rid = await new_run(store)
    results = await asyncio.gather(
        *(store.resolve_step(rid, "s", done("s", i), completed("s", i)) for i in range(8))
    )
    assert len(set(map(msgspec_key, results))) == 1
    history = await store.history(rid)
    assert [type(e) for e in history] == [RunStarted, StepCompleted]
    assert history[1].output == results[0].output


async def test_history_lists_events_in_append_order(store: Any) -> None:
    rid = await new_run(store)
    for i in range(12):
        await store.resolve_step(rid, f"s{i}", done(f"s{i}", i), completed(f"s{i}", i))
    outputs = [e.output for e in (await store.history(rid))[1:]]
    assert outputs == list(range(12))


async def test_list_active_honours_its_limit(store: Any) -> None:
    for _ in range(3):
        await new_run(store)
    assert len(await store.list_active(limit=2)) == 2


def msgspec_key(record: StepRecord) -> Any:
    return (record.status, record.output)
