"""A failed step says what failed and where: the exception's type, message and a
capped traceback in ``StepFailed``, shown by status/history, logged by the worker
with run, step and attempt, and on the step's span (status ERROR, exception event)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import legato
from legato.cli.tables import failures_text, history_table, run_failure
from legato.runtime.outcomes import capped_traceback
from legato.schemas import Event, StepFailed
from legato.schemas.events import TRACEBACK_LIMIT


def query_the_database() -> None:
    raise ConnectionError("db down")


async def flaky(ctx: legato.StepContext) -> None:
    query_the_database()


def deep(n: int) -> None:
    if n == 0:
        raise ValueError("at the bottom")
    deeper(n - 1)  # two functions in turn: Python folds only a frame repeated in a row


def deeper(n: int) -> None:
    deep(n)


async def failed_run(**engine: Any) -> tuple[str, list[Event]]:
    flow = legato.Flow("failing").node(
        "load", flaky, retry=legato.Retry(max_attempts=2, initial_delay=0.01)
    )
    async with legato.Engine(**engine) as eng:
        result = await eng.run(legato.compile(flow), None, timeout=10)
        assert result.status == "failed"
        return result.run_id, await eng.history(result.run_id)


async def test_step_failed_keeps_the_type_message_and_traceback() -> None:
    _, events = await failed_run()
    failures = [e for e in events if isinstance(e, StepFailed)]
    assert [f.attempt for f in failures] == [1, 2]
    last = failures[-1]
    assert (last.error_type, last.message) == ("ConnectionError", "db down")
    assert last.error.startswith("ConnectionError: db down (at ")  # the summary, as before
    assert last.traceback.startswith("Traceback (most recent call last):")
    assert "in query_the_database" in last.traceback and "in flaky" in last.traceback
    assert "runtime/attempt.py" not in last.traceback  # from the node's frame on
    assert last.traceback.rstrip().endswith("ConnectionError: db down")


def test_a_long_traceback_keeps_its_end_within_the_limit() -> None:
    try:
        deep(400)
    except ValueError as exc:
        text = capped_traceback(exc)
    assert text.startswith("[") and "characters cut]\n" in text
    assert len(text.split("\n", 1)[1]) == TRACEBACK_LIMIT
    assert text.rstrip().endswith("ValueError: at the bottom")
    assert capped_traceback(ValueError("never raised")) == ""


def test_events_written_before_the_new_fields_still_read() -> None:
    old = {
        "type": "step_failed",
        "at": 1.0,
        "step_id": "a",
        "node": "a",
        "attempt": 1,
        "error": "RuntimeError: x (at f.py:1)",
        "error_type": "RuntimeError",
    }
    for raw, decode in (
        (msgspec.msgpack.encode(old), msgspec.msgpack.Decoder(Event).decode),
        (msgspec.json.encode(old), msgspec.json.Decoder(Event).decode),
    ):
        event = decode(raw)
        assert isinstance(event, StepFailed)
        assert (event.error, event.message, event.traceback) == (old["error"], "", "")
    assert failures_text([decode(raw)]) == "failures:\na, attempt 1: RuntimeError: " + old["error"]


async def test_history_and_status_show_the_traceback() -> None:
    _, events = await failed_run()
    text = failures_text(events)
    assert text.startswith("failures:\nload, attempt 1: ConnectionError: db down\n    Traceback")
    assert text.count("Traceback (most recent call last):") == 2
    assert "ConnectionError: db down" in history_table(events)
    failure = run_failure(events)  # what `legato status` shows below a failed run's header
    assert failure is not None and failure.attempt == 2


async def test_the_worker_logs_each_failed_attempt_with_run_step_and_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="legato.pipeline"):
        run_id, _ = await failed_run()
    records = [r for r in caplog.records if "failed, attempt" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.WARNING, logging.ERROR]  # retried, final
    first = records[0].getMessage()
    assert f"of run {run_id}" in first and "step load" in first and "attempt 1" in first
    assert "retry at" in first and "attempt 2" in records[1].getMessage()
    assert all(r.exc_info and r.exc_info[0] is ConnectionError for r in records)


async def test_the_failed_steps_span_has_status_error_and_an_exception_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await failed_run(tracer=provider.get_tracer("test"))
    steps = [s for s in exporter.get_finished_spans() if s.name == "step load"]
    assert len(steps) == 2
    for span in steps:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description is not None and "db down" in span.status.description
        (event,) = [e for e in span.events if e.name == "exception"]
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "ConnectionError"
        assert event.attributes["exception.message"] == "db down"
        assert "query_the_database" in str(event.attributes["exception.stacktrace"])
