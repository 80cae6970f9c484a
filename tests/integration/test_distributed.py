"""The same blueprints give the same result embedded and distributed (Kafka jobs,
Cassandra history, Redis joins), including under duplicated and redelivered jobs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import legato
from legato.adapters import open_backend
from legato.config import Settings
from legato.runtime.ports import Backend
from legato.schemas import Job
from tests.property.dags import DagSpec, Recorder, build, dags, reference

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INPUT = {"amount": 50, "upto": 3, "user": "bo", "extra_seats": 1, "name": "ann", "pass_mark": 10}


@pytest.fixture
async def engine(dist_settings: Settings) -> AsyncIterator[legato.Engine]:
    dist: Backend = await open_backend(dist_settings)
    eng = legato.Engine(dist, concurrency=16)
    eng.start_workers()
    try:
        yield eng
    finally:
        await eng.close()
        await dist.close()


@pytest.mark.parametrize(
    "example", ["etl", "branch", "condition", "loop", "inputs", "quorum", "foreach"]
)
async def test_examples_match_embedded(engine: legato.Engine, example: str) -> None:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    reg = legato.compile(str(EXAMPLES / f"{example}.yaml"))
    embedded = await legato.run(reg, INPUT, timeout=30)
    rid = await engine.start(reg, INPUT)
    distributed = await engine.wait(rid, timeout=60)
    assert (distributed.status, distributed.outputs, distributed.context) == (
        embedded.status,
        embedded.outputs,
        embedded.context,
    )


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=dags(max_nodes=12))
async def test_random_dags_match_the_reference(engine: legato.Engine, spec: DagSpec) -> None:
    recorder = Recorder()
    reg = build(spec, recorder)
    rid = await engine.start(reg, {"low": spec.low})
    result = await engine.wait(rid, timeout=60)
    assert result.status == "completed", result.error
    assert result.outputs == reference(spec)
    calls = [node for r, node in recorder.calls if r == rid]
    assert sorted(calls) == spec.calls(result.outputs)  # each node (and item) ran once


async def test_redelivered_jobs_change_nothing(engine: legato.Engine) -> None:
    flow = legato.Flow("redeliver")
    counts: dict[str, int] = {}

    async def count(ctx: legato.StepContext) -> int:
        counts[ctx.step_id] = counts.get(ctx.step_id, 0) + 1
        return 1

    flow.node("a", count).node("j", count)
    for b in ("b1", "b2", "b3"):
        flow.node(b, count).edge("a", b).edge(b, "j")
    reg = legato.compile(flow)
    rid = await engine.start(reg, None)
    result = await engine.wait(rid, timeout=60)
    # Publish every job of the run again, as a crashed worker's uncommitted offsets would.
    again = [
        Job(rid, s, s, reg.id, reg.version, trigger="a" if s.startswith("b") else None)
        for s in ("a", "b1", "b2", "b3", "j")
    ]
    await engine.backend.bus.publish(again * 2)
    await asyncio.sleep(1.0)  # let the workers take the duplicates
    for _ in range(100):
        if engine.busy == 0:
            break
        await asyncio.sleep(0.05)
    assert result.status == "completed"
    assert counts == {"a": 1, "b1": 1, "b2": 1, "b3": 1, "j": 1}
    history = await engine.backend.store.history(rid)
    assert sum(1 for e in history if type(e).__name__ == "StepCompleted") == 5
    assert sum(1 for e in history if type(e).__name__ == "RunCompleted") == 1


async def test_one_trace_follows_a_run_through_kafka(dist_settings: Settings) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def one(ctx: legato.StepContext) -> int:
        return 1

    dist = await open_backend(dist_settings)
    eng = legato.Engine(dist, tracer=provider.get_tracer("test"))
    try:
        flow = legato.Flow("traced").node("a", one).node("b", one).node("c", one)
        result = await eng.run(legato.compile(flow.edge("a", "b").edge("b", "c")), None, timeout=60)
    finally:
        await eng.close()
        await dist.close()
    spans = [
        s
        for s in exporter.get_finished_spans()
        if s.attributes and s.attributes.get("legato.run_id") == result.run_id
    ]
    steps = {s.attributes["legato.step_id"]: s for s in spans if s.name.startswith("step ")}
    assert set(steps) == {"a", "b", "c"}
    assert len({s.context.trace_id for s in spans}) == 1
    assert steps["c"].parent is not None
    assert steps["c"].parent.span_id == steps["b"].context.span_id
