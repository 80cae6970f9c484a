"""A step attempt's outcomes as values: completed, failed (retried or not), waiting.

Pure: what to record for an outcome is decided here, from the node's config,
the job and the clock's time; the pipeline writes it. ``backoff_delay`` is the
retry policy's delay, bounded for any attempt number.
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from legato.runtime.errors import ExpressionError, OutputTooLargeError, StepError
from legato.runtime.nodes import Result
from legato.runtime.registry import CompiledNode
from legato.runtime.routing import Routing
from legato.schemas import ContextWrite, Job, Retry, StepCompleted, StepFailed, StepRecord
from legato.schemas.events import TRACEBACK_LIMIT

DEFAULT_MAX_VALUE_BYTES = 1 << 20
_encode = msgspec.msgpack.Encoder().encode


def backoff_delay(retry: Retry | None, attempt: int, rng: Callable[[], float]) -> float:
    """The delay before attempt ``attempt + 1``: ``initial_delay * multiplier **
    (attempt - 1)``, capped at ``max_delay``, spread by +/- ``jitter``. Computed
    without overflow for any ``attempt``."""
    if retry is None or retry.initial_delay <= 0 or retry.max_delay <= 0:
        return 0.0
    exponent = attempt - 1
    base = retry.max_delay
    if retry.multiplier <= 1:
        base = min(retry.max_delay, retry.initial_delay)
    elif exponent < math.log(retry.max_delay / retry.initial_delay, retry.multiplier):
        base = min(retry.max_delay, retry.initial_delay * retry.multiplier**exponent)
    return float(max(0.0, base * (1 + retry.jitter * (2 * rng() - 1))))


def error_message(exc: BaseException) -> str:
    """A failure's message: the text of Legato's own errors, else type, text and
    where it was raised."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, StepError | ExpressionError):
        return text
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {text}{where}"


_RUNTIME = str(Path(__file__).resolve().parent) + os.sep


def capped_traceback(exc: BaseException, limit: int = TRACEBACK_LIMIT) -> str:
    """``exc``'s traceback (with its causes) as Python prints it, less the leading
    frames of Legato's own step machinery, cut to its last ``limit`` characters: the
    frames nearest the raise and the message are kept."""
    if exc.__traceback__ is None:
        return ""
    report = traceback.TracebackException.from_exception(exc)
    frames = list(report.stack)
    ours = next((i for i, f in enumerate(frames) if not f.filename.startswith(_RUNTIME)), 0)
    report.stack = traceback.StackSummary.from_list(frames[ours:])
    text = "".join(report.format())
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"[{cut} characters cut]\n" + text[cut:]


def is_retryable(exc: BaseException) -> bool:
    retryable = getattr(exc, "retryable", None)
    if isinstance(retryable, bool):
        return retryable
    return not isinstance(exc, ExpressionError)


def split_result(raw: Any) -> tuple[Any, str | None]:
    """A node's return value as ``(output, action)``."""
    return (raw.output, raw.action) if isinstance(raw, Result) else (raw, None)


def check_size(value: Any, what: str, limit: int) -> None:
    """Fail the step (not retryably) if ``value`` cannot be stored or is over ``limit``."""
    try:
        size = len(_encode(value))
    except (TypeError, OverflowError) as exc:
        raise StepError(f"{what} is not serialisable: {exc}", retryable=False) from exc
    if size > limit:
        raise OutputTooLargeError(f"{what} is {size} bytes, over the limit of {limit} bytes")


def check_values(output: Any, writes: Mapping[str, Any], limit: int) -> None:
    check_size(output, "output", limit)
    for key, value in writes.items():
        check_size(value, f"context value {key!r}", limit)


@dataclass(frozen=True, slots=True)
class Completion:
    """What a completed step records, in one atomic write."""

    record: StepRecord
    event: StepCompleted
    context: tuple[ContextWrite, ...]


def completion(
    node: CompiledNode,
    job: Job,
    output: Any,
    action: str | None,
    routing: Routing,
    writes: Mapping[str, Any],
    *,
    started: float,
    now: float,
    worker: str,
    fallback: str | None = None,
) -> Completion:
    record = StepRecord(
        "done", node.id, output, action, routing.skipped, routing.looped, job.attempt, fallback
    )
    event = StepCompleted(
        at=now,
        step_id=job.step_id,
        node=node.id,
        attempt=job.attempt,
        output=output,
        action=action,
        skipped=routing.skipped,
        looped=routing.looped,
        context=writes if isinstance(writes, dict) else dict(writes),
        started_at=started,
        fallback=fallback,
        worker=worker,
    )
    cws = tuple(ContextWrite(k, job.step_id, v) for k, v in writes.items()) if writes else ()
    return Completion(record, event, cws)


def failure(
    node: CompiledNode,
    job: Job,
    exc: BaseException,
    *,
    now: float,
    rng: Callable[[], float],
    failed_node: str | None = None,
) -> StepFailed:
    """The ``StepFailed`` of an attempt; ``retry_at`` is set when another attempt is
    due (retryable, attempts left; a fallback's failure is never retried)."""
    retry_at = None
    if failed_node is None and is_retryable(exc) and job.attempt < node.max_attempts:
        delay = getattr(exc, "next_retry_delay", None)
        if not isinstance(delay, int | float) or delay < 0:
            delay = backoff_delay(node.retry, job.attempt, rng)
        retry_at = now + delay
    return StepFailed(
        at=now,
        step_id=job.step_id,
        node=failed_node or node.id,
        attempt=1 if failed_node else job.attempt,
        error=error_message(exc),
        error_type=type(exc).__name__,
        retry_at=retry_at,
        message=str(exc),
        traceback=capped_traceback(exc),
    )
