"""History events: the append-only record of a run, as a tagged union.

Schema evolution rules: new fields get defaults; never reorder or retype a
field; decoders ignore unknown fields so that older workers can read newer
events during a rolling deploy.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

RunStatus = Literal["running", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class _Event(msgspec.Struct, frozen=True, tag_field="type", omit_defaults=True):
    at: float  # unix seconds


class RunStarted(_Event, tag="run_started", frozen=True):
    run_id: str
    blueprint_id: str
    version: str
    input: Any = None
    trace: str | None = None  # W3C traceparent of the run's span


class StepCompleted(_Event, tag="step_completed", frozen=True):
    """A step finished. ``skipped`` lists the targets of the edges it did not take
    (every other outgoing edge was taken) and ``looped`` says a loop's last node went
    back to the loop's start: decided once here, so every replay routes identically."""

    step_id: str
    node: str
    attempt: int
    output: Any = None
    action: str | None = None
    skipped: tuple[str, ...] = ()
    looped: bool = False
    context: dict[str, Any] = {}
    started_at: float = 0.0
    fallback: str | None = None
    worker: str = ""


class StepFailed(_Event, tag="step_failed", frozen=True):
    """An attempt failed. ``retry_at`` is set when another attempt is scheduled.

    ``error`` is the one-line summary (type, message and where, for errors not
    Legato's own); ``error_type`` the exception's class name, ``message`` its text
    and ``traceback`` its formatted traceback, cut to its last
    ``TRACEBACK_LIMIT`` characters (events written before these fields read as "").
    """

    step_id: str
    node: str
    attempt: int
    error: str
    error_type: str = ""
    retry_at: float | None = None
    message: str = ""
    traceback: str = ""


TRACEBACK_LIMIT = 8192


class StepSkipped(_Event, tag="step_skipped", frozen=True):
    """Dead-path elimination: every arrival at this step was a skip."""

    step_id: str
    node: str


class StepWaiting(_Event, tag="step_waiting", frozen=True):
    """A step waits for a signal and/or until ``until`` (a durable timer is set)."""

    step_id: str
    node: str
    signal: str | None = None
    until: float | None = None


class SignalReceived(_Event, tag="signal_received", frozen=True):
    """A named signal reached the run; the first one of each name is kept."""

    name: str
    data: Any = None


class RunCompleted(_Event, tag="run_completed", frozen=True):
    pass


class RunFailed(_Event, tag="run_failed", frozen=True):
    error: str
    step_id: str | None = None


class RunCancelled(_Event, tag="run_cancelled", frozen=True):
    reason: str = ""


Event = (
    RunStarted
    | StepCompleted
    | StepFailed
    | StepSkipped
    | StepWaiting
    | SignalReceived
    | RunCompleted
    | RunFailed
    | RunCancelled
)


class StepRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """The resolution of one step, kept beside the events for direct lookup."""

    status: Literal["done", "skipped"]
    node: str
    output: Any = None
    action: str | None = None
    skipped: tuple[str, ...] = ()
    looped: bool = False
    attempt: int = 0
    fallback: str | None = None


class RunHeader(msgspec.Struct, frozen=True, omit_defaults=True):
    """A run's header: what it runs, on what input, and where it stands."""

    run_id: str
    blueprint_id: str
    version: str
    status: RunStatus = "running"
    input: Any = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    parked_at: float = 0.0  # the progress (updated_at) at which resuming found nothing to do
    parked_until: float | None = None  # ... before this time (None: before its next progress)


class ContextWrite(msgspec.Struct, frozen=True):
    """One write of a context key by one step (each writer keeps its own row)."""

    key: str
    step_id: str
    value: Any
