"""The RunStore and BlueprintStore contract. Subclass ``RunStoreContract`` and give a
``store`` fixture: a fresh object that is both a ``RunStore`` and a ``BlueprintStore``."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from legato.runtime.errors import FencingError, RunNotFoundError, SignalTakenError
from legato.runtime.history import fold
from legato.schemas import (
    Blueprint,
    ContextWrite,
    Job,
    Node,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunHeader,
    RunPaused,
    RunResumed,
    RunRetried,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)
from legato.testing.contract.runindex import RunIndexContract


async def new_run(store: Any, value: Any = None) -> str:
    rid = uuid.uuid4().hex
    now = time.time()
    header = RunHeader(rid, "bp", "1", "running", value, None, now, now)
    assert await store.create_run(
        header, RunStarted(at=now, run_id=rid, blueprint_id="bp", version="1", input=value)
    )
    return rid


def done(node: str, output: Any, skipped: tuple[str, ...] = ()) -> StepRecord:
    return StepRecord("done", node, output, None, skipped, attempt=1)


def completed(step: str, output: Any, at: float | None = None) -> StepCompleted:
    return StepCompleted(
        at=time.time() if at is None else at, step_id=step, node=step, attempt=1, output=output
    )


def failed(step: str, attempt: int, retry: bool = True, node: str | None = None) -> StepFailed:
    return StepFailed(
        at=time.time(),
        step_id=step,
        node=node or step,
        attempt=attempt,
        error=f"boom {attempt}",
        retry_at=time.time() + 60 if retry else None,
    )


class RunStoreContract(RunIndexContract):
    """Runs, steps, context, signals, fencing, the active and run indexes, blueprints."""

    async def test_create_get_and_create_twice(self, store: Any) -> None:
        rid = await new_run(store, {"x": [1, 2]})
        header = await store.get_run(rid)
        got = (header.run_id, header.blueprint_id, header.version, header.status, header.input)
        assert got == (rid, "bp", "1", "running", {"x": [1, 2]})
        again = RunHeader(rid, "other", "2", "running", None, None, 0.0, 0.0)
        assert not await store.create_run(
            again, RunStarted(at=0.0, run_id=rid, blueprint_id="o", version="2")
        )
        assert (await store.get_run(rid)).blueprint_id == "bp"
        assert await store.get_run("no-such-run") is None

    async def test_foreach_items_are_kept_by_position(self, store: Any) -> None:
        rid = await new_run(store, None)
        items = [{"n": i} for i in range(250)] + [None, [1], "x"]
        await store.put_items(rid, "f", 0, items)
        await store.put_items(rid, "f", 0, items[:3])  # again: nothing changes
        await store.put_items(rid, "f#1", 0, ["other"])
        assert await store.get_items(rid, "f", 0, len(items)) == items
        assert await store.get_items(rid, "f", 251, 252) == [[1]]
        assert await store.get_items(rid, "f", 99, 102) == items[99:102]
        assert await store.get_items(rid, "f", 253, 300) == []
        assert await store.get_items(rid, "f#1", 0, 5) == ["other"]
        assert await store.get_items(rid, "g", 0, 5) == []

    async def test_a_steps_first_read(self, store: Any) -> None:
        rid = await new_run(store, [7])
        await store.resolve_step(rid, "a", done("a", 1), completed("a", 1))
        await store.resolve_step(rid, "b", done("b", 2), completed("b", 2))
        view = await store.read_step(rid, "c", ["a", "b", "x"])
        assert (view.header.run_id, view.header.status, view.header.input) == (rid, "running", [7])
        assert (view.record, view.failure) == (None, None)
        assert view.inputs == {"a": done("a", 1), "b": done("b", 2)}
        view = await store.read_step(rid, "a", [])  # a start node: its own record only
        assert view.header.blueprint_id == "bp" and view.record == done("a", 1)
        assert view.inputs == {}
        missing = await store.read_step("no-such-run", "a", ["b"])
        assert (missing.header, missing.record, missing.inputs) == (None, None, {})
        await store.finish_run(rid, "cancelled", RunCancelled(at=time.time()), "stop")
        assert (await store.read_step(rid, "a", [])).header.status == "cancelled"

    async def test_the_last_failed_attempt_is_read_with_the_step(self, store: Any) -> None:
        rid = await new_run(store)
        for attempt in (1, 2, 3):
            await store.record_failure(rid, failed("a", attempt))
        await store.record_failure(rid, failed("a", 1, retry=False, node="fallback_node"))
        view = await store.read_step(rid, "a", [])
        assert view.failure is not None
        assert (view.failure.attempt, view.failure.node) == (3, "a")  # a fallback's is not
        assert (await store.read_step(rid, "b", ["a"])).inputs == {}  # failures are no inputs

    async def test_first_resolution_wins(self, store: Any) -> None:
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

    async def test_a_stale_fence_writes_nothing(self, store: Any) -> None:
        rid = await new_run(store)
        await store.claim_step(rid, "a", 5)
        await store.claim_step(rid, "a", 7)  # another worker took the step over
        await store.claim_step(rid, "a", 6)  # a late claim of an older token changes nothing
        with pytest.raises(FencingError):
            await store.resolve_step(rid, "a", done("a", 1), completed("a", 1), (), 5)
        with pytest.raises(FencingError):
            await store.resolve_step(rid, "a", done("a", 1), completed("a", 1), (), 6)
        with pytest.raises(FencingError):
            await store.record_failure(rid, failed("a", 1), 5)
        error_event = RunFailed(at=time.time(), error="x")
        with pytest.raises(FencingError):
            await store.finish_run(rid, "failed", error_event, "x", ("a", 5))
        assert [type(e) for e in await store.history(rid)] == [RunStarted]
        assert (await store.get_run(rid)).status == "running"
        assert (await store.read_step(rid, "a", [])).failure is None
        # The current holder writes; an unfenced write (a skip, an alias) always may.
        assert await store.resolve_step(rid, "a", done("a", 2), completed("a", 2), (), 7) == done(
            "a", 2
        )
        skip = StepSkipped(at=time.time(), step_id="b", node="b")
        assert (await store.resolve_step(rid, "b", StepRecord("skipped", "b"), skip)).status == (
            "skipped"
        )
        await store.record_failure(rid, failed("c", 1))
        await store.claim_step(rid, "c", 3)
        await store.record_failure(rid, failed("c", 2), 3)
        assert await store.finish_run(rid, "failed", error_event, "x", ("c", 3))

    async def test_read_step_claims_for_its_token(self, store: Any) -> None:
        rid = await new_run(store)
        await store.resolve_step(rid, "x", done("x", 1), completed("x", 1))
        view = await store.read_step(rid, "a", ["x"], claim=4)
        assert view.record is None and set(view.inputs) == {"x"}
        await store.read_step(rid, "a", [], claim=9)  # taken over
        await store.read_step(rid, "a", [], claim=8)  # a late older claim changes nothing
        for stale in (4, 8):
            with pytest.raises(FencingError):
                await store.resolve_step(rid, "a", done("a", 1), completed("a", 1), (), stale)
        assert (await store.read_step(rid, "a", [])).record is None  # no claim, no write
        assert await store.resolve_step(rid, "a", done("a", 2), completed("a", 2), (), 9) == done(
            "a", 2
        )

    async def test_a_fence_never_claimed_is_stale(self, store: Any) -> None:
        rid = await new_run(store)
        with pytest.raises(FencingError):
            await store.resolve_step(rid, "a", done("a", 1), completed("a", 1), (), 1)

    async def test_context_writes_of_parallel_steps_are_all_kept(self, store: Any) -> None:
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

    async def test_skips_failures_and_history_order(self, store: Any) -> None:
        rid = await new_run(store)
        await store.record_failure(rid, failed("a", 1))
        await store.resolve_step(rid, "a", done("a", 3), completed("a", 3))
        await store.resolve_step(
            rid, "b", StepRecord("skipped", "b"), StepSkipped(at=time.time(), step_id="b", node="b")
        )
        kinds = [type(e).__name__ for e in await store.history(rid)]
        assert kinds == ["RunStarted", "StepFailed", "StepCompleted", "StepSkipped"]
        steps = await store.all_steps(rid)
        assert steps["b"].status == "skipped" and steps["a"].output == 3

    async def test_the_fold_of_the_history_equals_the_step_records(self, store: Any) -> None:
        rid = await new_run(store)
        await store.record_failure(rid, failed("a", 1))
        a = StepCompleted(
            at=time.time(), step_id="a", node="a", attempt=1, output=1, skipped=("c",)
        )
        await store.resolve_step(rid, "a", done("a", 1, ("c",)), a)
        await store.resolve_step(rid, "a", done("a", 9), completed("a", 9))  # lost: a wins
        skip = StepSkipped(at=time.time(), step_id="c", node="c")
        await store.resolve_step(rid, "c", StepRecord("skipped", "c"), skip)
        loop = StepCompleted(
            at=time.time(), step_id="l#2", node="l", attempt=2, output=[1], looped=True
        )
        looped = StepRecord("done", "l", [1], looped=True, attempt=2)
        await store.resolve_step(rid, "l#2", looped, loop)
        state = fold(await store.history(rid))
        records = await store.all_steps(rid)
        assert {s: st.record() for s, st in state.steps.items() if st.resolved} == records
        assert await store.get_steps(rid, list(records)) == records

    async def test_finish_only_from_running(self, store: Any) -> None:
        rid = await new_run(store)
        assert rid in {h.run_id for h in (await store.list_active()).headers}
        assert await store.finish_run(rid, "cancelled", RunCancelled(at=time.time()), "stop")
        assert not await store.finish_run(rid, "completed", RunCompleted(at=time.time()), None)
        header = await store.get_run(rid)
        assert (header.status, header.error) == ("cancelled", "stop")
        assert rid not in {h.run_id for h in (await store.list_active()).headers}
        assert (await store.wait_finished(rid, 1.0)).status == "cancelled"
        with pytest.raises(RunNotFoundError):
            await store.finish_run("no-such-run", "failed", RunCompleted(at=0.0), None)

    async def test_wait_finished_times_out_while_running(self, store: Any) -> None:
        rid = await new_run(store)
        with pytest.raises(TimeoutError):
            await store.wait_finished(rid, 0.1)

    async def test_progress_updates_updated_at(self, store: Any) -> None:
        rid = await new_run(store)
        before = (await store.get_run(rid)).updated_at
        await store.resolve_step(rid, "a", done("a", None), completed("a", None, before + 100))
        assert (await store.get_run(rid)).updated_at == pytest.approx(before + 100, abs=0.01)

    async def test_parking_marks_the_header_of_a_running_run(self, store: Any) -> None:
        rid = await new_run(store)
        header = await store.get_run(rid)
        assert (header.parked_at, header.parked_until) == (0.0, None)
        await store.park(rid, header.updated_at, header.updated_at + 60)
        header = await store.get_run(rid)
        assert header.parked_at == pytest.approx(header.updated_at, abs=0.01)
        assert header.parked_until == pytest.approx(header.updated_at + 60, abs=0.01)
        await store.park(rid, header.updated_at, None)
        assert (await store.get_run(rid)).parked_until is None

    async def test_signals_queue_in_order_and_waiters(self, store: Any) -> None:
        rid = await new_run(store)
        assert await store.next_signal(rid, "go") is None
        job = Job(rid, "w", "w", "bp", "1")
        await store.add_waiter(rid, "go", job)
        await store.add_waiter(rid, "go", job)  # idempotent per step
        assert await store.get_waiters(rid, "go") == [job]
        first = await store.put_signal(rid, "go", {"ok": 1}, SignalReceived(at=0.0, name="go"))
        second = await store.put_signal(rid, "go", {"ok": 2}, SignalReceived(at=0.0, name="go"))
        assert first is not None and second is not None and first < second
        assert await store.next_signal(rid, "go") == (first, {"ok": 1})
        assert await store.next_signal(rid, "other") is None
        ids = [e.id for e in await store.history(rid) if isinstance(e, SignalReceived)]
        assert ids == [first, second]

    async def test_a_signal_is_consumed_once_with_the_resolution(self, store: Any) -> None:
        rid = await new_run(store)
        await store.add_waiter(rid, "go", Job(rid, "w#0", "w", "bp", "1"))
        first = await store.put_signal(rid, "go", 1, SignalReceived(at=0.0, name="go"))
        second = await store.put_signal(rid, "go", 2, SignalReceived(at=0.0, name="go"))
        await store.resolve_step(
            rid, "w#0", done("w", 1), completed("w#0", 1), consume=("go", first)
        )
        assert await store.get_waiters(rid, "go") == []  # a consumer waits no more
        assert await store.next_signal(rid, "go") == (second, 2)
        # Another step cannot take the consumed signal: refused, nothing written.
        with pytest.raises(SignalTakenError):
            await store.resolve_step(
                rid, "w#1", done("w", 1), completed("w#1", 1), consume=("go", first)
            )
        assert await store.get_steps(rid, ["w#1"]) == {}
        # The same step again (a redelivery): its first resolution stands.
        again = await store.resolve_step(
            rid, "w#0", done("w", 2), completed("w#0", 2), consume=("go", second)
        )
        assert again.output == 1
        assert await store.next_signal(rid, "go") == (second, 2)

    async def test_concurrent_waits_take_distinct_signals(self, store: Any) -> None:
        rid = await new_run(store)
        sid = await store.put_signal(rid, "go", "x", SignalReceived(at=0.0, name="go"))

        async def take(step: str) -> bool:
            try:
                await store.resolve_step(
                    rid, step, done(step, "x"), completed(step, "x"), consume=("go", sid)
                )
            except SignalTakenError:
                return False
            return True

        won = await asyncio.gather(*(take(f"w{i}") for i in range(6)))
        assert sum(won) == 1
        assert len(await store.get_steps(rid, [f"w{i}" for i in range(6)])) == 1

    async def test_a_stale_holder_consumes_no_signal(self, store: Any) -> None:
        rid = await new_run(store)
        sid = await store.put_signal(rid, "go", 1, SignalReceived(at=0.0, name="go"))
        await store.claim_step(rid, "w", 1)
        await store.claim_step(rid, "w", 2)  # taken over
        with pytest.raises(FencingError):
            await store.resolve_step(
                rid, "w", done("w", 1), completed("w", 1), fence=1, consume=("go", sid)
            )
        assert await store.next_signal(rid, "go") == (sid, 1)  # still there for the new holder
        await store.resolve_step(
            rid, "w", done("w", 1), completed("w", 1), fence=2, consume=("go", sid)
        )
        assert await store.next_signal(rid, "go") is None

    async def test_a_dedupe_key_keeps_one_signal(self, store: Any) -> None:
        rid = await new_run(store)

        def ev(n: int) -> SignalReceived:
            return SignalReceived(at=0.0, name="go", data=n)

        assert await store.put_signal(rid, "go", 1, ev(1), "cmd-1") is not None
        assert await store.put_signal(rid, "go", 2, ev(2), "cmd-1") is None
        assert await store.put_signal(rid, "go", 3, ev(3), "cmd-2") is not None
        kept = [e.data for e in await store.history(rid) if isinstance(e, SignalReceived)]
        assert kept == [1, 3]

    async def test_pause_and_resume_move_the_status_once(self, store: Any) -> None:
        rid = await new_run(store)
        assert not await store.set_status(rid, "paused", "running", RunResumed(at=1.0))
        assert await store.set_status(rid, "running", "paused", RunPaused(at=1.0))
        assert not await store.set_status(rid, "running", "paused", RunPaused(at=1.0))
        assert (await store.get_run(rid)).status == "paused"
        assert rid not in [h.run_id for h in (await store.list_active()).headers]
        assert await store.set_status(rid, "paused", "running", RunResumed(at=2.0))
        assert rid in [h.run_id for h in (await store.list_active()).headers]
        await store.set_status(rid, "running", "paused", RunPaused(at=3.0))
        # A paused run can still end (a cancel, or its last running step).
        assert await store.finish_run(rid, "cancelled", RunCancelled(at=4.0), None)
        assert (await store.wait_finished(rid, timeout=5)).status == "cancelled"
        kinds = [type(e).__name__ for e in await store.history(rid)]
        assert kinds == ["RunStarted", "RunPaused", "RunResumed", "RunPaused", "RunCancelled"]

    async def test_reopening_an_ended_run_forgets_the_reset_steps(self, store: Any) -> None:
        rid = await new_run(store)
        await store.resolve_step(rid, "a", done("a", 1), completed("a", 1))
        await store.resolve_step(
            rid, "b", done("b", 2), completed("b", 2), [ContextWrite("k", "b", 2)]
        )
        await store.record_failure(rid, failed("c", 1, retry=False))
        assert not await store.reopen_run(rid, "running", RunRetried(at=1.0, previous="x"))
        await store.finish_run(rid, "failed", RunFailed(at=2.0, error="c failed"), "c failed")
        event = RunRetried(at=3.0, previous="failed", reset=("b", "c"))
        assert not await store.reopen_run(rid, "cancelled", event)  # not its status
        assert await store.reopen_run(rid, "failed", event, [("k", "b")])
        header = await store.get_run(rid)
        assert (header.status, header.error) == ("running", None)
        assert rid in [h.run_id for h in (await store.list_active()).headers]
        assert set(await store.all_steps(rid)) == {"a"}
        assert (await store.read_step(rid, "c", ())).failure is None
        assert await store.get_context(rid, ["k"]) == {}
        assert not await store.reopen_run(rid, "failed", event)  # once
        history = await store.history(rid)
        assert isinstance(history[-1], RunRetried)
        assert set(await store.all_steps(rid)) == {
            s for s, st in fold(history).steps.items() if st.resolved
        }

    async def test_event_waiters_and_retained_events(self, store: Any) -> None:
        name, key = f"ev-{uuid.uuid4().hex}", "k1"
        rid = await new_run(store)
        job = Job(rid, "w", "w", "bp", "1")
        await store.add_event_waiter(name, key, job)
        await store.add_event_waiter(name, key, job)  # idempotent per step
        assert await store.event_waiters(name, key) == [job]
        assert await store.event_waiters(name, "other") == []
        await store.remove_event_waiter(name, key, rid, "w")
        assert await store.event_waiters(name, key) == []
        now = time.time()
        await store.retain_event(name, key, "e2", {"n": 2}, now + 60)
        await store.retain_event(name, key, "e1", {"n": 1}, now + 60)
        await store.retain_event(name, key, "e0", {"n": 0}, now + 1)
        assert await store.retained_events(name, key, now + 2) == [
            ("e1", {"n": 1}),
            ("e2", {"n": 2}),
        ]
        assert await store.retained_events(name, "other", now) == []

    async def test_schedules_and_their_armed_tick(self, store: Any) -> None:
        from legato.schemas.schedules import Schedule

        name = f"s-{uuid.uuid4().hex}"
        assert await store.get_schedule(name) is None
        assert not await store.arm_schedule(name, None, 10.0)  # no such schedule
        sched = Schedule(name, "bp", "* * * * *", version="1", input={"x": 1})
        await store.put_schedule(sched)
        assert await store.get_schedule(name) == (sched, None)
        assert await store.arm_schedule(name, None, 10.0)
        assert not await store.arm_schedule(name, None, 20.0)  # not what it was
        assert await store.arm_schedule(name, 10.0, 20.0)
        paused = Schedule(name, "bp", "* * * * *", version="1", paused=True)
        await store.put_schedule(paused)  # keeps the armed tick
        assert await store.get_schedule(name) == (paused, 20.0)
        assert (paused, 20.0) in await store.list_schedules()
        assert await store.delete_schedule(name)
        assert not await store.delete_schedule(name)
        assert await store.get_schedule(name) is None
        assert not await store.arm_schedule(name, 20.0, 30.0)  # gone: not resurrected
        assert await store.get_schedule(name) is None

    async def test_held_jobs_are_kept_once_and_dropped(self, store: Any) -> None:
        rid = await new_run(store)
        a, b = Job(rid, "a", "a", "bp", "1"), Job(rid, "b", "b", "bp", "1", attempt=2)
        for job in (a, b, a):
            await store.hold_job(rid, job)
        assert sorted(await store.held_jobs(rid), key=lambda j: j.step_id) == [a, b]
        await store.drop_held(rid, [a])
        assert await store.held_jobs(rid) == [b]

    async def test_blueprints_by_version(self, store: Any) -> None:
        bid = uuid.uuid4().hex
        v1 = Blueprint(id=bid, version="1", nodes=(Node(id="a", uses="m:f"),))
        v2 = Blueprint(id=bid, version="2", nodes=(Node(id="b", uses="m:g"),))
        await store.put_blueprint(v1)
        await store.put_blueprint(v2)
        assert await store.get_blueprint(bid, "1") == v1
        assert await store.get_blueprint(bid, "2") == v2
        assert await store.get_blueprint(bid, "3") is None

    async def test_blueprint_versions_are_listed_and_can_be_deactivated(self, store: Any) -> None:
        bid = uuid.uuid4().hex
        for version in ("10", "2", "1"):
            await store.put_blueprint(Blueprint(id=bid, version=version, nodes=(Node("a", "m:f"),)))
        listed = await store.list_blueprints(bid)
        assert [(i.id, i.version, i.active) for i in listed] == [
            (bid, "1", True),
            (bid, "2", True),
            (bid, "10", True),
        ]
        assert all(i.registered_at > 0 for i in listed)
        assert await store.set_blueprint_active(bid, "2", False)
        assert not await store.set_blueprint_active(bid, "3", False)  # not registered
        # Registering a version again changes neither its content nor its state.
        await store.put_blueprint(Blueprint(id=bid, version="2", nodes=(Node("z", "m:z"),)))
        assert [i.active for i in await store.list_blueprints(bid)] == [True, False, True]
        assert (await store.get_blueprint(bid, "2")).nodes[0].id == "a"
        everything = {(i.id, i.version): i.active for i in await store.list_blueprints()}
        assert everything[(bid, "2")] is False and everything[(bid, "10")] is True
        assert await store.set_blueprint_active(bid, "2", True)
        assert [i.active for i in await store.list_blueprints(bid)] == [True, True, True]

    async def test_resolving_a_step_of_an_unknown_run_fails(self, store: Any) -> None:
        with pytest.raises(RunNotFoundError):
            await store.resolve_step("no-such-run", "a", done("a", 1), completed("a", 1))
        with pytest.raises(RunNotFoundError):
            await store.history("no-such-run")
        assert await store.get_run("no-such-run") is None

    async def test_concurrent_resolutions_of_one_step_record_one(self, store: Any) -> None:
        rid = await new_run(store)
        results = await asyncio.gather(
            *(store.resolve_step(rid, "s", done("s", i), completed("s", i)) for i in range(8))
        )
        assert len({(r.status, r.output) for r in results}) == 1
        history = await store.history(rid)
        assert [type(e) for e in history] == [RunStarted, StepCompleted]
        assert history[1].output == results[0].output

    async def test_history_lists_events_in_append_order(self, store: Any) -> None:
        rid = await new_run(store)
        for i in range(12):
            await store.resolve_step(rid, f"s{i}", done(f"s{i}", i), completed(f"s{i}", i))
        outputs = [e.output for e in (await store.history(rid))[1:]]
        assert outputs == list(range(12))

    async def test_list_active_pages_through_every_running_run(self, store: Any) -> None:
        ids = {await new_run(store) for _ in range(7)}
        seen: list[str] = []
        after = None
        pages = 0
        while True:
            page = await store.list_active(limit=2, after=after)
            seen += [h.run_id for h in page.headers]
            pages += 1
            if page.after is None:
                break
            after = page.after
        assert ids <= set(seen), (ids - set(seen), seen)
        assert len(seen) == len(set(seen)), seen  # each run once
        assert pages >= 4
