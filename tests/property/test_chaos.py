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
