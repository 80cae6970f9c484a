"""One trace per run: a span per step, all under the run's span."""

from __future__ import annotations

import asyncio

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


async def test_defect_10_retries_sleeps_signals_and_the_reconciler_stay_in_the_runs_trace() -> None:
    """Jobs published later (a retry's timer, a sleep's, a signal's wake-up, the
    reconciler's re-drive) carry the run's trace: one run is one trace."""
    from legato.reconciler import Reconciler

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    fast = legato.Retry(max_attempts=2, initial_delay=0.01, jitter=0.0)
    attempts: list[int] = []

    async def flaky(ctx: legato.StepContext) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("once")
        return 1

    flow = (
        legato.Flow("traced_later")
        .node("flaky", flaky, retry=fast)
        .node("nap", "legato.sleep", params={"seconds": 0.01})
        .node("ok", "legato.wait_for_signal", params={"signal": "go"})
        .node("end", one)
        .edge("flaky", "nap")
        .edge("nap", "ok")
        .edge("ok", "end")
    )
    engine = legato.Engine(tracer=provider.get_tracer("test"))
    async with engine:
        engine.start_workers()
        rid = await engine.start(legato.compile(flow), None)
        for _ in range(500):  # until the wait parked (its step's span ended)
            if any(s.name == "step ok" for s in exporter.get_finished_spans()):
                break
            await asyncio.sleep(0.01)
        await Reconciler(engine.backend, stalled_after=0).run_once()  # re-drives nap, flaky
        await engine.signal(rid, "go", True)
        result = await engine.wait(rid, timeout=5)
    assert result.status == "completed" and attempts == [1, 2]
    spans = exporter.get_finished_spans()
    (run_span,) = [s for s in spans if s.name == "run traced_later"]
    steps = [s for s in spans if s.name.startswith("step ")]
    assert len(steps) >= 6  # flaky x2, nap x2 (its timer's job), ok x2 (woken), end
    assert {s.context.trace_id for s in spans} == {run_span.context.trace_id}
