"""The step pipeline's defects of issue 10, each reproduced on the embedded backend
(one fault injected per port) and named after the defect; every test failed on the
executor before the step pipeline."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import msgspec
import pytest

import legato
import legato.testing
from legato.adapters.memory import MemoryCoordinator, MemoryJobBus, MemoryRunStore, MemoryTimers
from legato.reconciler import Reconciler
from legato.reconciler.repair import RepairWatch
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.outcomes import backoff_delay
from legato.schemas import Job, StepCompleted, StepFailed

FAST = legato.Retry(max_attempts=3, initial_delay=0.01, multiplier=1.0, jitter=0.0)


async def one(ctx: legato.StepContext) -> int:
    return (ctx.input if isinstance(ctx.input, int) else 0) + 1


# -- 1: a run hangs forever on a lost signal wake-up ---------------------------------------


class SignalWhileHeld(MemoryRunStore):
    """Sends the signal from inside the waiter's handling, and handles the wake-up job
    right then: it arrives while the waiter still holds the step's lease."""

    engine: legato.Engine

    async def append_event(self, run_id: str, event: Any) -> None:
        await super().append_event(run_id, event)
        if type(event).__name__ == "StepWaiting":
            await self.engine.signal(run_id, "go", {"ok": True})
            bus = self.engine.backend.bus
            assert isinstance(bus, MemoryJobBus)
            for delivery in bus.take():
                await self.engine.handle(delivery.job)  # finds the lease held


async def test_defect_01_a_wake_up_sent_while_the_waiter_holds_its_lease_is_not_lost() -> None:
    store = SignalWhileHeld()
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock, store=store))
    store.engine = engine
    flow = legato.Flow("wake").node("w", "legato.wait_for_signal", params={"signal": "go"})
    rid = await engine.start(legato.compile(flow.node("after", one).edge("w", "after")), None)
    await legato.testing.Pump(engine).run()  # no clock advance: no hand-over timer fires
    result = await engine.result(await engine.status(rid))
    assert (result.status, result.outputs["w"]) == ("completed", {"ok": True})


async def test_defect_01_the_reconciler_resumes_a_wait_whose_signal_came() -> None:
    engine = legato.Engine()
    flow = legato.Flow("wake2").node("w", "legato.wait_for_signal", params={"signal": "go"})
    rid = await engine.start(legato.compile(flow), None)
    pump = legato.testing.Pump(engine)
    await pump.run()
    await engine.signal(rid, "go", 1)
    pump.collect().clear()  # the wake-up job is lost
    stats = await Reconciler(engine.backend, stalled_after=0).run_once()
    await pump.run()
    assert stats.jobs == 1
    assert (await engine.status(rid)).status == "completed"


# -- 3: a node raising BaseException kills worker coroutines --------------------------------


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("error", [asyncio.CancelledError, SystemExit, KeyboardInterrupt])
async def test_defect_03_a_node_raising_a_base_exception_fails_its_step_only(
    kind: str, error: type[BaseException]
) -> None:
    async def bad_async(ctx: legato.StepContext) -> None:
        raise error()

    def bad_sync(ctx: legato.StepContext) -> None:
        raise error()

    flow = legato.Flow("crash").node("x", bad_async if kind == "async" else bad_sync)
    async with legato.Engine(concurrency=4) as engine:
        result = await engine.run(legato.compile(flow), None, timeout=5)
        again = await engine.run(legato.compile(legato.Flow("after").node("a", one)), 1, timeout=5)
        alive = sum(1 for t in engine.worker._tasks if not t.done())
    assert result.status == "failed"
    assert result.error is not None and f"node code raised {error.__name__}" in result.error
    assert again.status == "completed"  # the workers survived
    assert alive == 4


# -- 4: Redis losing data abandons running steps; FLUSHALL reissues tokens -----------------


async def test_defect_04_a_step_running_when_the_coordinator_loses_its_data_keeps_going() -> None:
    clock = legato.testing.FakeClock()
    coordinator = MemoryCoordinator(clock=clock)
    backend = legato.testing.backend(clock, coordinator=coordinator)
    runs: list[int] = []
    release = asyncio.Event()

    async def long(ctx: legato.StepContext) -> str:
        runs.append(ctx.attempt)
        await release.wait()
        return "done"

    engine = legato.Engine(backend, lease_ttl=10.0)
    async with engine:
        engine.start_workers()
        rid = await engine.start(legato.compile(legato.Flow("lose").node("s", long)), None)
        await clock.run_until(lambda: bool(runs))
        before = (await coordinator.acquire_lease(rid, "s", "probe", 1.0)).held_for
        coordinator.lose_data()
        await clock.advance(5.0)  # two heartbeats: the lease is re-established
        assert (await coordinator.acquire_lease(rid, "s", "another-worker", 1.0)).token is None
        release.set()
        result = await engine.wait(rid, timeout=5)
    assert before > 0
    assert (result.status, result.outputs, runs) == ("completed", {"s": "done"}, [1])


async def test_defect_04_a_duplicate_job_after_the_loss_does_not_run_the_step_again() -> None:
    """The coordinator loses its data while a step runs, and a second job of the step
    (a redelivery, a repair's re-drive) arrives before the holder's next heartbeat:
    it must not take the step, whose lease the heartbeat then re-establishes."""
    clock = legato.testing.FakeClock()
    coordinator = MemoryCoordinator(clock=clock)
    backend = legato.testing.backend(clock, coordinator=coordinator)
    runs: list[int] = []
    release = asyncio.Event()

    async def long(ctx: legato.StepContext) -> str:
        runs.append(ctx.attempt)
        await release.wait()
        return "done"

    engine = legato.Engine(backend, lease_ttl=10.0)
    flow = legato.Flow("dup").node("s", long).node("t", one).edge("s", "t")
    async with engine:
        engine.start_workers()
        rid = await engine.start(legato.compile(flow), None)
        await clock.run_until(lambda: bool(runs))
        coordinator.lose_data()
        job = Job(rid, "s", "s", "dup", "1")
        # Before the heartbeat: handed over, not run (a task: a second run would block).
        first = asyncio.create_task(engine.handle(job))
        await clock.advance(5.0)  # two heartbeats: the lease is re-established
        second = asyncio.create_task(engine.handle(job))  # held: handed over again
        await clock.advance(6.0)  # the grace is over; the hand-overs find it held
        assert runs == [1]
        release.set()
        await asyncio.gather(first, second)
        result = await engine.wait(rid, timeout=5)
    assert (result.status, result.outputs, runs) == ("completed", {"s": "done", "t": 1}, [1])


async def test_defect_04_after_the_loss_a_new_step_runs_at_once() -> None:
    """In the grace after a loss, a step nobody ever claimed is not held back."""
    clock = legato.testing.FakeClock()
    coordinator = MemoryCoordinator(clock=clock)
    engine = legato.Engine(legato.testing.backend(clock, coordinator=coordinator))
    rid = await engine.start(legato.compile(legato.Flow("new").node("a", one)), 1)
    coordinator.lose_data()
    await legato.testing.Pump(engine).run()  # no clock advance: no hand-over waited
    assert (await engine.result(await engine.status(rid))).outputs == {"a": 2}


async def test_defect_04_join_state_lost_with_the_coordinator_is_repaired_at_once() -> None:
    coordinator = MemoryCoordinator()
    engine = legato.Engine(legato.testing.backend(coordinator=coordinator))
    flow = legato.Flow("rejoin").node("a", one).node("b", one).node("j", one)
    flow.node("s", one).edge("s", "a").edge("s", "b").edge("a", "j").edge("b", "j")
    rid = await engine.start(legato.compile(flow), 0)
    pump = legato.testing.Pump(engine)
    await pump.step()  # s
    await pump.step()  # a: arrives at j
    coordinator.lose_data()  # j forgets a's arrival
    await pump.run()  # b arrives: j would wait for a forever
    assert (await engine.status(rid)).status == "running"
    watch = RepairWatch(engine.backend, engine.ending, delay=0.0)
    assert await watch.check()  # this worker saw the new epoch first
    await pump.run()
    result = await engine.result(await engine.status(rid))
    assert (result.status, result.outputs["j"]) == ("completed", 1)
    assert not await watch.check()  # one repair per loss


# -- 5: a worker that cannot heartbeat keeps running -----------------------------------------


async def test_defect_05_a_step_that_cannot_renew_its_lease_stops_before_it_expires() -> None:
    coordinator = legato.testing.Faults(MemoryCoordinator())
    coordinator.fail("renew_lease", BackendUnavailableError("redis: down"), times=1000)
    spans: list[tuple[float, float, bool]] = []

    async def slow(ctx: legato.StepContext) -> str:
        start = time.monotonic()
        try:
            await asyncio.sleep(0.3 if len(spans) else 5.0)
        except asyncio.CancelledError:
            spans.append((start, time.monotonic(), False))
            raise
        spans.append((start, time.monotonic(), True))
        return "ok"

    engine = legato.Engine(
        legato.testing.backend(coordinator=coordinator),
        lease_ttl=0.4,
        heartbeat_interval=0.05,
        backoff_initial=0.01,
    )
    async with engine:
        result = await engine.run(
            legato.compile(legato.Flow("fence").node("s", slow)), None, timeout=10
        )
    assert result.status == "completed"
    first, second = spans
    assert first[2] is False and first[1] - first[0] < 0.4  # stopped within the lease
    assert second[0] >= first[1]  # the next execution starts after: no overlap


# -- 6: a transient error while recording a result re-runs the node ------------------------


async def test_defect_06_a_failed_write_of_the_result_is_retried_not_the_node() -> None:
    calls: Counter[str] = Counter()

    async def counted(ctx: legato.StepContext) -> int:
        calls[ctx.step_id] += 1
        return 1

    store = legato.testing.Faults(MemoryRunStore())
    store.fail("resolve_step", BackendUnavailableError("cassandra: timeout"), times=3)
    engine = legato.Engine(legato.testing.backend(store=store))
    async with engine:
        result = await engine.run(
            legato.compile(legato.Flow("w").node("a", counted)), None, timeout=10
        )
    assert result.status == "completed"
    assert calls == {"a": 1}
    assert store.calls["resolve_step"] == 4


# -- 7: a timer published twice re-runs the same attempt -----------------------------------


class TwiceTimers(MemoryTimers):
    """Every timer fires twice (two pollers read it before either deleted it)."""

    async def schedule(self, at: float, job: Job) -> None:
        await super().schedule(at, job)
        await super().schedule(at + 0.001, job)


async def test_defect_07_a_timer_that_fires_twice_runs_each_attempt_once() -> None:
    executions: Counter[int] = Counter()

    async def fails_twice(ctx: legato.StepContext) -> int:
        executions[ctx.attempt] += 1
        if ctx.attempt < 3:
            raise ConnectionError(f"attempt {ctx.attempt}")
        return ctx.attempt

    bus = MemoryJobBus()
    engine = legato.Engine(legato.testing.backend(bus=bus, timers=TwiceTimers(bus)))
    flow = legato.Flow("twice").node("a", fails_twice, retry=FAST)
    async with engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
        await asyncio.sleep(0.05)  # the second firings too
        history = await engine.history(result.run_id)
    assert result.status == "completed"
    assert executions == {1: 1, 2: 1, 3: 1}
    assert [e.attempt for e in history if isinstance(e, StepFailed)] == [1, 2]


# -- 8: backoff overflows at attempt 1025 ---------------------------------------------------


def test_defect_08_backoff_is_bounded_for_any_attempt() -> None:
    retry = legato.Retry(max_attempts=10_000, initial_delay=1.0, multiplier=2.0, max_delay=60.0)
    assert backoff_delay(retry, 1025, lambda: 0.5) == 60.0
    assert backoff_delay(retry, 10**9, lambda: 0.5) == 60.0
    assert backoff_delay(retry, 3, lambda: 0.5) == 4.0


async def test_defect_08_a_late_attempt_is_retried_not_an_internal_error() -> None:
    async def failing(ctx: legato.StepContext) -> None:
        raise ConnectionError("still down")

    retry = legato.Retry(max_attempts=5000, initial_delay=1.0, multiplier=2.0, max_delay=60.0)
    engine = legato.Engine()
    reg = legato.compile(legato.Flow("late").node("a", failing, retry=retry))
    rid = await engine.start(reg, None)
    pump = legato.testing.Pump(engine)
    (job,) = pump.collect()
    pump.queue.clear()
    await engine.handle(msgspec.structs.replace(job, attempt=1025))
    (failed,) = [e for e in await engine.history(rid) if isinstance(e, StepFailed)]
    assert (await engine.status(rid)).status == "running"
    assert failed.attempt == 1025 and failed.retry_at is not None
    assert failed.retry_at - failed.at == pytest.approx(60.0, rel=0.2)
    await engine.close()


# -- 9: the reconciler cannot see past `limit` active runs ----------------------------------


async def test_defect_09_parked_runs_never_hide_a_stalled_one_and_are_not_reread() -> None:
    store = legato.testing.Faults(MemoryRunStore())
    engine = legato.Engine(legato.testing.backend(store=store))
    waits = legato.compile(
        legato.Flow("parked").node("w", "legato.wait_for_signal", params={"signal": "never"})
    )
    pump = legato.testing.Pump(engine)
    for _ in range(30):
        await engine.start(waits, None)
    await pump.run()  # thirty runs parked on a signal that never comes
    stalled = await engine.start(legato.compile(legato.Flow("lost").node("a", one)), 1)
    pump.collect().clear()  # its start job is lost
    reconciler = Reconciler(engine.backend, stalled_after=0, page=10)
    first = await reconciler.run_once()
    await pump.run()
    reads = store.calls.get("history", 0)
    second = await reconciler.run_once()
    assert (first.scanned, first.jobs, first.resumed) == (31, 1, 1)
    assert (await engine.status(stalled)).status == "completed"
    assert (second.scanned, second.parked) == (30, 30)
    assert store.calls.get("history", 0) == reads  # parked runs were not read again
    await engine.close()


# -- 11: a Redis ResponseError such as OOM fails the run ------------------------------------


class OomClient:
    """A redis-py client whose scripts the server refuses, as with maxmemory reached."""

    def register_script(self, text: str) -> Any:
        from redis import exceptions

        async def call(**_: Any) -> Any:
            raise exceptions.ResponseError(
                "OOM command not allowed when used memory > 'maxmemory'."
            )

        return call


async def test_defect_11_redis_refusing_a_command_is_an_outage_not_a_failure() -> None:
    from legato.adapters.redis import RedisCoordinator

    coordinator = RedisCoordinator(OomClient())  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailableError, match="OOM"):
        await coordinator.arrive("r", "j", "a", True, 2, "all")
    with pytest.raises(BackendUnavailableError):
        await coordinator.acquire_lease("r", "s", "w", 1.0)


# -- 12: sync nodes ignore timeout and cancel -----------------------------------------------


async def test_defect_12_a_timed_out_sync_node_never_overlaps_its_retry() -> None:
    spans: list[tuple[float, float]] = []

    def slow(ctx: legato.StepContext) -> str:
        start = time.monotonic()
        time.sleep(0.3 if ctx.attempt == 1 else 0.01)
        spans.append((start, time.monotonic()))
        return "ok"

    retry = legato.Retry(max_attempts=2, initial_delay=0.0, jitter=0.0)
    flow = legato.Flow("synct").node("s", slow, timeout=0.05, retry=retry)
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
    assert result.status == "completed"
    (_, a_end), (b_start, _) = spans
    assert b_start >= a_end  # the retry waited for the first attempt's thread


# -- 13: takeover is slow -------------------------------------------------------------------


async def test_defect_13_a_dead_workers_step_is_taken_over_when_its_lease_expires() -> None:
    clock = legato.testing.FakeClock()
    backend = legato.testing.backend(clock)
    engine = legato.Engine(backend, lease_ttl=10.0)
    rid = await engine.start(legato.compile(legato.Flow("take").node("a", one)), 1)
    # A worker took a's job and its lease, then died (kill -9); Kafka redelivers the job.
    assert (await backend.coordinator.acquire_lease(rid, "a", "dead-worker", 10.0)).token
    pump = legato.testing.Pump(engine)
    await pump.run()  # the redelivered job finds the lease held: handed over
    assert (await engine.status(rid)).status == "running"
    await clock.advance(10.1)  # the lease expires; the hand-over fires
    await pump.run()
    assert (await engine.status(rid)).status == "completed"
    await engine.close()


async def test_a_redelivered_job_does_not_re_drive_a_finished_path() -> None:
    # A re-drive of a resolved step publishes only its unresolved successors.
    engine = legato.Engine()
    flow = legato.Flow("redrive")
    for i in range(5):
        flow.node(f"n{i}", one)
    flow.node("n5", "legato.wait_for_signal", params={"signal": "end"})  # keeps it running
    for i in range(1, 6):
        flow.edge(f"n{i - 1}", f"n{i}")
    rid = await engine.start(legato.compile(flow), 0)
    pump = legato.testing.Pump(engine)
    await pump.run()
    first = pump.handled[0]
    before = len(pump.handled)
    await pump.handle(first)  # a late duplicate of n0's job
    await pump.run()
    history = await engine.history(rid)
    assert len(pump.handled) == before + 1  # no cascade down the finished chain
    assert sum(isinstance(e, StepCompleted) for e in history) == 5
    await engine.close()
