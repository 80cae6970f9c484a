"""Chaos on the embedded backend: jobs and timer firings duplicated, reordered and
delayed change nothing. Random DAGs whose nodes may fail their first attempt (a
retry on a durable timer) are driven by hand (``legato.testing.Pump``) in a random
order, with old jobs redelivered at random, timers firing late and twice, and the
fake clock jumping; every run must end with the reference interpreter's outputs,
each attempt of each step executed exactly once."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legato
import legato.testing
from legato.adapters.memory import MemoryJobBus, MemoryTimers
from legato.runtime.clock import Clock
from legato.schemas import Job
from tests.property.dags import DagSpec, compute, dags, item_output, name, reference

RETRY = legato.Retry(max_attempts=2, initial_delay=5.0, multiplier=1.0, jitter=0.0)


class ChaosTimers(MemoryTimers):
    """Fires each timer late, and half of them twice."""

    def __init__(self, bus: MemoryJobBus, clock: Clock, rng: random.Random) -> None:
        super().__init__(bus, clock)
        self.rng = rng

    async def schedule(self, at: float, job: Job) -> None:
        await super().schedule(at + self.rng.uniform(0, 3), job)
        if self.rng.random() < 0.5:
            await super().schedule(at + self.rng.uniform(0, 20), job)


def build(spec: DagSpec, fails: tuple[bool, ...], calls: Counter[tuple[str, int]]) -> Any:
    flow = legato.Flow(f"chaos{spec.size}")
    for i in range(spec.size):

        async def fn(ctx: legato.StepContext, i: int = i) -> Any:
            calls[(ctx.step_id, ctx.attempt)] += 1
            if fails[i] and ctx.attempt == 1:
                raise ConnectionError("first attempt fails")
            if ctx.index is not None:
                return item_output(i, ctx.input)
            return legato.Result(compute(spec, i, ctx.input), spec.actions[i])

        flow.node(name(i), fn, join=spec.join(i), retry=RETRY, foreach=spec.foreach(i))
    for e in spec.edges:
        flow.edge(name(e.source), name(e.target), action=e.action, condition=e.condition)
    return legato.compile(flow)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(max_nodes=12), st.data(), st.integers(0, 2**32 - 1))
async def test_duplicated_reordered_and_delayed_jobs_and_timers_change_nothing(
    spec: DagSpec, data: st.DataObject, seed: int
) -> None:
    fails = tuple(data.draw(st.booleans()) for _ in range(spec.size))
    rng = random.Random(seed)
    clock = legato.testing.FakeClock()
    bus = MemoryJobBus()
    engine = legato.Engine(
        legato.testing.backend(clock, bus=bus, timers=ChaosTimers(bus, clock, rng))
    )
    calls: Counter[tuple[str, int]] = Counter()
    rid = await engine.start(build(spec, fails, calls), {"low": spec.low})
    pump = legato.testing.Pump(engine)
    for _ in range(5000):
        queue = pump.collect()
        if not queue and (await engine.status(rid)).status != "running":
            break
        roll = rng.random()
        if queue and roll < 0.6:
            await pump.step(rng.randrange(len(queue)))  # out of order
        elif pump.handled and roll < 0.75:
            await pump.handle(rng.choice(pump.handled))  # a redelivery, now
        elif pump.handled and roll < 0.85:
            queue.append(rng.choice(pump.handled))  # a redelivery, later
        else:
            await clock.advance(rng.uniform(0.5, 12))  # time passes; timers fire
    header = await engine.status(rid)
    result = await engine.result(header)
    await engine.close()
    assert result.status == "completed", result.error
    assert result.outputs == reference(spec)
    assert set(calls.values()) <= {1}, calls  # each attempt of each step ran once
    for i in range(spec.size):
        if name(i) not in result.outputs:
            continue
        k = spec.fan(i)
        steps = [name(i)] if k is None else [f"{name(i)}[{x}]" for x in range(k)]
        for step in steps:  # each item retries on its own
            ran = sorted(a for (s, a) in calls if s == step)
            assert ran == ([1, 2] if fails[i] else [1]), step



@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(max_nodes=10), st.data(), st.integers(0, 2**32 - 1))
async def test_pauses_and_resumes_amid_chaos_change_nothing(
    spec: DagSpec, data: st.DataObject, seed: int
) -> None:
    """The same chaos, with the run paused and resumed at random: held jobs (timer
    firings included) are released on resume, and nothing runs twice."""
    fails = tuple(data.draw(st.booleans()) for _ in range(spec.size))
    rng = random.Random(seed)
    clock = legato.testing.FakeClock()
    bus = MemoryJobBus()
    engine = legato.Engine(
        legato.testing.backend(clock, bus=bus, timers=ChaosTimers(bus, clock, rng))
    )
    calls: Counter[tuple[str, int]] = Counter()
    rid = await engine.start(build(spec, fails, calls), {"low": spec.low})
    pump = legato.testing.Pump(engine)
    for _ in range(5000):
        queue = pump.collect()
        status = (await engine.status(rid)).status
        if not queue and status == "paused":
            await engine.resume(rid)
            continue
        if not queue and status != "running":
            break
        roll = rng.random()
        started = sum(calls.values())
        if roll < 0.05 and status in ("running", "paused"):
            await (engine.pause(rid) if status == "running" else engine.resume(rid))
        elif queue and roll < 0.6:
            await pump.step(rng.randrange(len(queue)))
        elif pump.handled and roll < 0.75:
            await pump.handle(rng.choice(pump.handled))
        if status == "paused":  # no step starts while the run is paused
            assert sum(calls.values()) == started
        elif pump.handled and roll < 0.85:
            queue.append(rng.choice(pump.handled))
        else:
            await clock.advance(rng.uniform(0.5, 12))
    result = await engine.result(await engine.status(rid))
    await engine.close()
    assert result.status == "completed", result.error
    assert result.outputs == reference(spec)
    assert set(calls.values()) <= {1}, calls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5), st.integers(0, 2**32 - 1))
async def test_signal_queues_amid_chaos_consume_each_signal_once_in_order(
    n: int, seed: int
) -> None:
    """A wait in a loop takes ``n`` signals sent at random moments while jobs are
    duplicated and reordered: iteration i gets signal i, each signal once."""
    from legato.schemas import SignalReceived, StepCompleted
    from tests.unit.test_signal_queue import rework_loop

    rng = random.Random(seed)
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(rework_loop(), None)
    pump = legato.testing.Pump(engine)
    verdicts = [False] * (n - 1) + [True]
    for _ in range(5000):
        queue = pump.collect()
        if not queue and not verdicts:
            break
        roll = rng.random()
        if verdicts and (not queue or roll < 0.2):
            await engine.signal(rid, "approval", {"ok": verdicts.pop(0)})
        elif queue and roll < 0.7:
            await pump.step(rng.randrange(len(queue)))
        elif pump.handled:
            await pump.handle(rng.choice(pump.handled))
    history = await engine.history(rid)
    assert (await engine.status(rid)).status == "completed"
    ids = [e.id for e in history if isinstance(e, SignalReceived)]
    consumed = [
        (e.step_id, e.signal_id)
        for e in history
        if isinstance(e, StepCompleted) and e.signal_id is not None
    ]
    assert consumed == [(f"review#{i}", sid) for i, sid in enumerate(ids)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["skip", "latest", "all"]), st.integers(0, 2**32 - 1))
async def test_schedule_ticks_amid_chaos_start_each_tick_at_most_once(
    catch_up: str, seed: int
) -> None:
    """Tick timers firing late and twice, tick jobs duplicated, reordered and held
    back, the clock jumping: no tick starts two runs, ``all`` starts every tick
    once, and the schedule stays armed for a tick after the last one."""
    from legato.runtime import cron
    from legato.runtime.schedules import is_tick
    from legato.schemas import RunStarted
    from legato.schemas.schedules import Schedule

    rng = random.Random(seed)
    clock = legato.testing.FakeClock()
    bus = MemoryJobBus()
    engine = legato.Engine(
        legato.testing.backend(clock, bus=bus, timers=ChaosTimers(bus, clock, rng))
    )
    await engine.register(legato.compile(legato.Flow("ticked").node("a", _one)))
    start = clock.now()
    first = await engine.schedules.add(
        Schedule("tick", "ticked", "*/10 * * * * *", catch_up=catch_up)  # type: ignore[arg-type]
    )
    pump = legato.testing.Pump(engine)
    for _ in range(400):
        queue = pump.collect()
        roll = rng.random()
        if queue and roll < 0.5:
            await pump.step(rng.randrange(len(queue)))
        elif pump.handled and roll < 0.65:
            await pump.handle(rng.choice(pump.handled))
        else:
            await clock.advance(rng.uniform(1, 40))
    await pump.run()
    end = clock.now()
    ticks = [first + 10 * i for i in range(int((end - first) // 10) + 1)]
    started = {}
    for t in ticks:
        header = await engine.backend.store.get_run(cron.run_id("tick", t))
        if header is not None:
            history = await engine.history(header.run_id)
            started[t] = sum(isinstance(e, RunStarted) for e in history)
    assert set(started.values()) <= {1}
    assert all(t >= start for t in started)
    if catch_up == "all":  # every tick that came due and was handled: none missing
        fired = max(started, default=first)
        assert [t for t in ticks if t <= fired] == sorted(started)
    ((_, armed),) = await engine.schedules.entries()
    assert armed is not None and armed > max(started, default=0)
    assert not [j for j in pump.collect() if not is_tick(j)]  # every run's jobs handled
    await engine.close()


async def _one(ctx: legato.StepContext) -> int:
    return 1
