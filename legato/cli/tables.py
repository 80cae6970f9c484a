"""Human-readable tables of a run's header and history (`legato status`, `history`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from legato.cli.jsontext import dumps
from legato.schemas import (
    Event,
    RunCancelled,
    RunFailed,
    RunHeader,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepWaiting,
)

WIDTH = 60  # longest value shown in a cell; the rest is cut with "…"


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell; no trailing spaces."""
    body = [list(r) for r in rows]
    every = ([list(headers)] if headers else []) + body
    widths = [max(len(r[i]) for r in every) for i in range(len(every[0]))] if every else []
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in every
    )


def short(value: Any) -> str:
    """``value`` as compact JSON on one line, cut at ``WIDTH`` characters."""
    text = " ".join((value if isinstance(value, str) else dumps(value)).split())
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def clock(at: float, *, date: bool = False) -> str:
    """A unix time in UTC: ``HH:MM:SS.mmm`` or, with ``date``, ``YYYY-MM-DD HH:MM:SS UTC``."""
    moment = datetime.fromtimestamp(at, UTC)
    if date:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def status_table(header: RunHeader) -> str:
    """A run's header, one field per line."""
    return table(None, status_rows(header))


def status_rows(header: RunHeader) -> list[tuple[str, str]]:
    rows = [
        ("run", header.run_id),
        ("blueprint", f"{header.blueprint_id} v{header.version}"),
        ("status", header.status),
    ]
    if header.created_at:
        rows.append(("created", clock(header.created_at, date=True)))
    if header.updated_at:
        took = header.updated_at - header.created_at if header.created_at else 0.0
        rows.append(("updated", f"{clock(header.updated_at, date=True)} (+{took:.3f}s)"))
    if header.error:
        rows.append(("error", short(header.error)))
    if header.input is not None:
        rows.append(("input", short(header.input)))
    return rows


HISTORY_COLUMNS = ("TIME", "EVENT", "STEP", "ATTEMPT", "DETAIL")


def history_row(event: Event) -> tuple[str, str, str, str, str]:
    """An event's cells: time (UTC), type, step, attempt and what it says."""
    step = getattr(event, "step_id", None) or ""
    node = getattr(event, "node", None)
    if node and step.split("#")[0] != node:
        step += f" ({node})"  # a fallback's event
    attempt = getattr(event, "attempt", None)
    return clock(event.at), _tag(event), step, str(attempt or ""), _detail(event)


def history_table(events: Iterable[Event]) -> str:
    """One line per event: time (UTC), type, step, attempt and what it says."""
    return table(HISTORY_COLUMNS, history_rows(events))


def _tag(event: Event) -> str:
    """The event's type as the history stores it (every event is tagged by a name)."""
    tag = event.__struct_config__.tag
    return tag if isinstance(tag, str) else type(event).__name__


def history_rows(events: Iterable[Event]) -> list[tuple[str, ...]]:
    return [history_row(e) for e in events]


def _detail(event: Event) -> str:
    match event:
        case RunStarted():
            return f"{event.blueprint_id} v{event.version}"
        case StepCompleted():
            parts = [short(event.output)]
            parts += [f"action={event.action}"] if event.action else []
            parts += [f"fallback={event.fallback}"] if event.fallback else []
            parts += [f"worker={event.worker}"] if event.worker else []
            parts += [f"consumed {event.signal} {event.signal_id}"] if event.signal else []
            return "  ".join(parts)
        case StepFailed():
            retry = f" (retry at {clock(event.retry_at)})" if event.retry_at else ""
            return short(event.error) + retry
        case StepWaiting():
            parts = [f"signal={event.signal}"] if event.signal else []
            parts += [f"until {clock(event.until)}"] if event.until else []
            return "  ".join(parts)
        case SignalReceived():
            return f"{event.name} {event.id} {short(event.data)}"
        case RunFailed():
            return short(event.error)
        case RunCancelled():
            return short(event.reason)
    return ""


def failure_text(event: StepFailed) -> str:
    """A failed attempt in full: step, attempt, type, message, then its traceback."""
    step = (
        event.step_id
        if event.step_id.split("#")[0] == event.node
        else (f"{event.step_id} ({event.node})")
    )
    head = f"{step}, attempt {event.attempt}: {event.error_type or 'error'}: "
    head += event.message or event.error
    body = "\n".join("    " + line for line in event.traceback.rstrip().splitlines())
    return head + ("\n" + body if body else "")


def failures_text(events: Iterable[Event]) -> str:
    """Every failed attempt in full, for below a history table ("" if none)."""
    failed = [failure_text(e) for e in events if isinstance(e, StepFailed)]
    return "failures:\n" + "\n".join(failed) if failed else ""


def run_failure(events: Sequence[Event]) -> StepFailed | None:
    """The failed attempt that failed the run, if a step's failure did."""
    ended = next((e for e in reversed(events) if isinstance(e, RunFailed)), None)
    if ended is None or ended.step_id is None:
        return None
    return next(
        (e for e in reversed(events) if isinstance(e, StepFailed) and e.step_id == ended.step_id),
        None,
    )
