"""One trace per run: a span per step, all under the run's span."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import legato


async def one(ctx: legato.StepContext) -> int:
    return 1


async def test_every_step_has_a_span_in_the_runs_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = legato.Flow("traced").node("a", one).node("j", one)
    for b in ("b1", "b2"):
        flow.node(b, one).edge("a", b).edge(b, "j")
    async with legato.Engine(tracer=provider.get_tracer("test")) as engine:
        result = await engine.run(legato.compile(flow), None, timeout=5)
    spans = exporter.get_finished_spans()
    steps = {s.attributes["legato.step_id"]: s for s in spans if s.name.startswith("step ")}
    (run_span,) = [s for s in spans if s.name == "run traced"]
    assert set(steps) == {"a", "b1", "b2", "j"}
    assert {s.context.trace_id for s in spans} == {run_span.context.trace_id}
    assert steps["a"].parent is not None
    assert steps["a"].parent.span_id == run_span.context.span_id
    assert steps["b1"].parent is not None
    assert steps["b1"].parent.span_id == steps["a"].context.span_id
    assert steps["a"].attributes["legato.run_id"] == result.run_id


async def test_no_tracer_no_spans() -> None:
    async with legato.Engine() as engine:
        assert engine.tracer is None
        result = await engine.run(legato.compile(legato.Flow("plain").node("a", one)), None)
    assert result.status == "completed"
