"""Core rules on random DAGs: every reachable node runs exactly once, in dependency
order; untaken branches are skipped; the run completes; the history replays to the
same state; duplicated, reordered and redelivered jobs change nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legato
import legato.testing
from legato.adapters.memory import MemoryTimers
from legato.runtime.history import fold
from tests.property.dags import ChaosBus, DagSpec, Recorder, build, dags, name, reference

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def run_spec(spec: DagSpec, engine: legato.Engine, recorder: Recorder) -> legato.RunResult:
    reg = build(spec, recorder)
    return await engine.run(reg, {"low": spec.low}, timeout=10)


def check(spec: DagSpec, result: legato.RunResult, recorder: Recorder) -> None:
    expected = reference(spec)
    assert result.status == "completed", result.error
    assert result.outputs == expected
    calls = [node for rid, node in recorder.calls if rid == result.run_id]
    assert sorted(calls) == spec.calls(expected), "a node or item ran twice or not at all"
    position = {node: k for k, node in enumerate(calls)}
    for e in spec.edges:
        src, dst = name(e.source), name(e.target)
        if dst in position and src in position and spec.joins[e.target] == "all":
            assert position[src] < position[dst], f"{dst} ran before {src}"
    for j in range(spec.size):  # a count join runs after N of its predecessors
        if spec.joins[j] == "count" and spec.racy(j) and name(j) in position:
            srcs = [name(e.source) for e in spec.preds(j)]
            ran = [s for s in srcs if s in position and position[s] < position[name(j)]]
            assert len(ran) >= spec.need(j), f"{name(j)} ran before {spec.need(j)} of {srcs}"


@SETTINGS
@given(dags())
async def test_reachable_nodes_run_once_in_order_and_history_replays(spec: DagSpec) -> None:
    recorder = Recorder()
    async with legato.Engine() as engine:
        result = await run_spec(spec, engine, recorder)
        history = await engine.backend.store.history(result.run_id)
        records = await engine.backend.store.all_steps(result.run_id)
        reg = await engine.registries.get(f"dag{spec.size}", "1")
    check(spec, result, recorder)
    state = fold(history, reg)
    assert state.status == "completed"
    assert state.outputs == result.outputs
    assert {s: st.status for s, st in state.steps.items()} == {
        s: r.status for s, r in records.items()
    }
    assert {s for s, st in state.steps.items() if st.status == "skipped"} == {
        name(i) for i in range(spec.size)
    } - set(result.outputs)


@SETTINGS
@given(dags(), st.integers(0, 2**32 - 1))
async def test_duplicated_reordered_redelivered_jobs_change_nothing(
    spec: DagSpec, seed: int
) -> None:
    recorder = Recorder()
    bus = ChaosBus(seed)
    backend = legato.testing.backend(bus=bus, timers=MemoryTimers(bus))
    async with legato.Engine(backend, concurrency=8) as engine:
        result = await run_spec(spec, engine, recorder)
    check(spec, result, recorder)
