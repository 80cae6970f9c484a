"""OpenTelemetry: one span per handled job; W3C ``traceparent`` carried with jobs.

A bus captures ``carrier()`` when it publishes (Kafka: message headers) and hands
it back with the delivery; the worker opens the step's span under it, so one
trace follows a run across workers. Without a tracer everything here is a
no-op costing one check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import msgspec
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode

from legato.schemas import Job


def carrier() -> dict[str, str] | None:
    """The current trace context as headers, or None outside a recording span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def traceparent() -> str | None:
    """The current span's W3C ``traceparent``, or None outside a recording span."""
    headers = carrier()
    return headers.get("traceparent") if headers else None


def stamp(job: Job, trace: str | None = None) -> Job:
    """``job`` carrying ``trace`` (default: the current span), for a job that is
    published later (a timer's, a waiter's, the reconciler's): its step's span then
    continues the run's trace. A job that carries one already keeps it."""
    if job.trace is not None:
        return job
    trace = trace or traceparent()
    return job if trace is None else msgspec.structs.replace(job, trace=trace)


def default_tracer() -> trace.Tracer | None:
    """The global tracer if an SDK provider is configured, else None (tracing off)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer("legato")


@contextlib.contextmanager
def step_span(
    tracer: trace.Tracer | None, job: Job, headers: Mapping[str, str] | None
) -> Iterator[None]:
    if tracer is None:
        yield
        return
    if not headers and job.trace is not None:
        headers = {"traceparent": job.trace}
    token = otel_context.attach(propagate.extract(headers)) if headers else None
    try:
        with tracer.start_as_current_span(
            f"step {job.node}",
            attributes={
                "legato.run_id": job.run_id,
                "legato.step_id": job.step_id,
                "legato.node": job.node,
                "legato.attempt": job.attempt,
                "legato.blueprint": f"{job.blueprint}@{job.version}",
            },
        ):
            yield
    finally:
        if token is not None:
            otel_context.detach(token)


def step_failed(exc: BaseException, summary: str) -> None:
    """Mark the current (step) span failed: status ERROR with ``summary`` and an
    ``exception`` event (type, message, traceback). A no-op outside a recording span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, summary))
