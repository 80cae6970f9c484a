"""Metrics on the embedded engine, read with an in-memory reader: exact counts for a
run with a skipped branch, a join, a retry, and a run that fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

import legato
from legato.runtime import metrics
from legato.worker import Readiness, serve_health

FAST = legato.Retry(max_attempts=3, initial_delay=0.01, multiplier=1.0, max_delay=0.01, jitter=0.0)


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    metrics.use(MeterProvider(metric_readers=[reader]))
    yield reader
    metrics.use(None)


def points(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
    """{metric name: {sorted attributes: value (a count for histograms)}}."""
    out: dict[str, dict[tuple[tuple[str, Any], ...], Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    value = p.count if isinstance(p, HistogramDataPoint) else p.value
                    out.setdefault(m.name, {})[tuple(sorted((p.attributes or {}).items()))] = value
    return out


def total(found: dict[str, dict[Any, Any]], name: str, **attrs: str) -> Any:
    want = set(attrs.items())
    return sum(v for k, v in found.get(name, {}).items() if want <= set(k))


async def begin(ctx: legato.StepContext) -> legato.Result:
    return legato.Result(output=1, action="left")


async def one(ctx: legato.StepContext) -> int:
    return 1


async def flaky(ctx: legato.StepContext) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("not yet")
    return ctx.attempt


async def broken(ctx: legato.StepContext) -> int:
    raise legato.NonRetryableError("no")


def shape() -> legato.Flow:
    """begin -> left (taken) | right (skipped) -> merge (a join) -> flaky (one retry)."""
    return (
        legato.Flow("shape")
        .node("begin", begin)
        .node("left", one)
        .node("right", one)
        .node("merge", one)
        .node("flaky", flaky, retry=FAST)
        .edge("begin", "left", action="left")
        .edge("begin", "right", action="right")
        .edge("left", "merge")
        .edge("right", "merge")
        .edge("merge", "flaky")
    )


async def test_counts_for_a_run_with_skip_join_retry_and_a_failed_run(
    reader: InMemoryMetricReader,
) -> None:
    async with legato.Engine() as engine:
        ok = await engine.run(legato.compile(shape()), None, timeout=10)
        bad = await engine.run(legato.compile(legato.Flow("bad").node("x", broken)), timeout=10)
    assert (ok.status, bad.status) == ("completed", "failed")
    found = points(reader)
    shape_ = {"blueprint": "shape"}
    assert total(found, "legato_steps_started", **shape_) == 5  # begin left merge flaky*2
    assert total(found, "legato_steps_started", node="flaky") == 2
    assert total(found, "legato_steps_completed", **shape_) == 4
    assert total(found, "legato_steps_retried", **shape_) == 1
    assert total(found, "legato_steps_retried", node="flaky") == 1
    assert total(found, "legato_steps_failed", **shape_) == 0
    assert total(found, "legato_steps_skipped", node="right") == 1
    assert total(found, "legato_steps_skipped") == 1
    assert total(found, "legato_joins_fired", node="merge") == 1
    assert total(found, "legato_joins_fired") == 1
    assert total(found, "legato_timers_fired") == 1  # the retry
    assert total(found, "legato_steps_failed", blueprint="bad", node="x") == 1
    assert total(found, "legato_steps_started") == 6
    assert total(found, "legato_step_duration", node="flaky", outcome="failed") == 1
    assert total(found, "legato_step_duration", node="flaky", outcome="completed") == 1
    assert total(found, "legato_step_duration", node="x", outcome="failed") == 1
    assert total(found, "legato_step_duration") == 6
    assert total(found, "legato_steps_in_flight") == 0


async def test_in_flight_counts_jobs_being_handled(reader: InMemoryMetricReader) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def hold(ctx: legato.StepContext) -> int:
        inside.set()
        await release.wait()
        return 1

    async with legato.Engine() as engine:
        engine.start_workers()
        rid = await engine.start(legato.compile(legato.Flow("hold").node("h", hold)))
        await inside.wait()
        assert total(points(reader), "legato_steps_in_flight") == 1
        release.set()
        await engine.wait(rid, timeout=10)
    assert total(points(reader), "legato_steps_in_flight") == 0


class FakeLag:
    topic = "jobs"

    def lag(self) -> dict[int, int]:
        return {0: 3, 1: 0}


def test_consumer_lag_and_reconciler_stats(reader: InMemoryMetricReader) -> None:
    source = FakeLag()
    metrics.watch_lag(source)
    metrics.reconciler_pass({"scanned": 4, "stalled": 2, "resumed": 1, "failed": 1, "jobs": 3})
    metrics.reconciler_pass({"scanned": 1, "leased": 2})
    metrics.dead_lettered("jobs")
    found = points(reader)
    # Only this source's topic: a bus an earlier test left open may be watched too.
    lag = {k: v for k, v in found["legato_consumer_lag"].items() if ("topic", "jobs") in k}
    assert lag == {
        (("partition", 0), ("topic", "jobs")): 3,
        (("partition", 1), ("topic", "jobs")): 0,
    }
    names = ("scanned", "stalled", "resumed", "failed", "errors", "jobs", "leased")
    assert [total(found, f"legato_reconciler_{k}") for k in names] == [5, 2, 1, 1, 0, 3, 2]
    assert total(found, "legato_deadlettered_messages", topic="jobs") == 1
    del source


async def test_metrics_endpoint_on_the_health_port() -> None:
    page_calls = []

    def render() -> bytes:
        page_calls.append(1)
        return b"legato_steps_started_total 1.0\n"

    from legato.telemetry import MetricsPage

    server = await serve_health(0, Readiness(), MetricsPage("text/plain; version=0.0.4", render))
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        raw = (await reader.read()).decode()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    head, _, body = raw.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert "Content-Type: text/plain; version=0.0.4" in head
    assert body == "legato_steps_started_total 1.0\n"
    assert page_calls == [1]


async def test_runs_started_ended_and_their_duration_by_blueprint_and_status(
    reader: InMemoryMetricReader,
) -> None:
    async with legato.Engine() as engine:
        await engine.run(legato.compile(legato.Flow("good").node("a", one)), None, timeout=10)
        await engine.run(legato.compile(legato.Flow("good").node("a", one)), None, timeout=10)
        await engine.run(legato.compile(legato.Flow("bad").node("x", broken)), None, timeout=10)
        waits = legato.compile(
            legato.Flow("waits").node("w", "legato.wait_for_signal", params={"signal": "go"})
        )
        rid = await engine.start(waits, None)
        await engine.start(waits, None, run_id=rid)
        await engine.cancel(rid, "stop")
        await engine.cancel(rid, "again")  # ended once, counted once
    found = points(reader)
    assert total(found, "legato_runs_started", blueprint="good") == 2
    assert total(found, "legato_runs_started", blueprint="waits") == 1  # a repeated start: once
    assert total(found, "legato_runs_started", blueprint="bad") == 1
    assert total(found, "legato_runs_ended", blueprint="good", status="completed") == 2
    assert total(found, "legato_runs_ended", blueprint="waits", status="cancelled") == 1
    assert total(found, "legato_runs_ended", blueprint="bad", status="failed") == 1
    assert total(found, "legato_runs_ended") == 4
    assert total(found, "legato_run_duration", blueprint="good") == 2
    assert total(found, "legato_run_duration", status="failed") == 1
    assert total(found, "legato_step_duration", blueprint="bad", node="x") == 1


async def test_queue_wait_is_recorded_for_every_delivered_job(
    reader: InMemoryMetricReader,
) -> None:
    async with legato.Engine() as engine:
        ok = await engine.run(legato.compile(shape()), None, timeout=10)
    assert ok.status == "completed"
    found = points(reader)
    # begin, left, merge, flaky twice (a retry); the skipped right has no job
    assert total(found, "legato_step_queue_wait", blueprint="shape") == 5
    assert total(found, "legato_step_queue_wait", node="flaky") == 2
