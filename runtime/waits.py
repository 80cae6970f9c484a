"""Steps that wait on durable timers: ``legato.sleep``, ``legato.wait_for_signal`` and
``legato.wait_for_event`` (``legato.runtime.events``).

No worker sleeps: a waiting step records ``StepWaiting`` and ends without a
resolution; once its lease is released, the pipeline sets a durable timer
(``Timers.schedule``) for a job carrying its ``deadline``. The timer's job (or,
for a signal, the signaller re-publishing the waiting job) runs the step again,
which then completes. Order of effects
avoids lost wake-ups: the waiter registers before it looks for the signal; the
signaller keeps the signal before it looks for waiters; and a waiter looks
once more after releasing its lease, because the signaller's job may have
arrived while it held the lease (that job is handed over, not run).

Signals of one name to one run form a FIFO queue: a signal wait (each loop
iteration is its own step) takes the oldest signal no step has consumed, and the
step's resolution records the consumption in the same atomic, fenced write
(``RunStore.resolve_step(consume=...)``). So a redelivered job, a second worker
or a stale lease holder can neither consume a second signal nor lose one; two
waits racing for one signal: one wins, the other looks for the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import msgspec

from legato.runtime import events
from legato.runtime.errors import StepTimeoutError
from legato.runtime.ports import RunStore
from legato.runtime.registry import CompiledNode
from legato.runtime.tracing import stamp
from legato.schemas import Job, StepWaiting

_EARLY = 0.0005  # timers may fire a hair early by another clock; re-arm rather than finish


def signal_name(name: str, key: str | None = None) -> str:
    """The stored name of a signal: ``name`` or ``name/key``."""
    return f"{name}/{key}" if key else name


def check_params(kind: str, params: dict[str, Any]) -> list[str]:
    """Problems with a built-in node's params (compile time)."""
    problems = []
    if kind == "event":
        if not isinstance(params.get("event"), str) or not params["event"]:
            problems.append("params.event: the event name (a non-empty string) is required")
        if not isinstance(params.get("key"), str) or not params["key"]:
            problems.append("params.key: the key, a CEL expression (a string), is required")
        extra = set(params) - {"event", "key"}
    elif kind == "signal":
        if not isinstance(params.get("signal"), str) or not params["signal"]:
            problems.append("params.signal: the signal name (a non-empty string) is required")
        if "key" in params and not isinstance(params["key"], str):
            problems.append("params.key: must be a string")
        extra = set(params) - {"signal", "key"}
    else:
        given = [k for k in ("seconds", "until") if k in params]
        if len(given) != 1:
            problems.append("params: give exactly one of `seconds` or `until`")
        elif given == ["seconds"]:
            sec = params["seconds"]
            if isinstance(sec, bool) or not isinstance(sec, int | float) or sec < 0:
                problems.append("params.seconds: must be a number >= 0")
        elif _instant(params["until"]) is None:
            problems.append("params.until: must be an ISO 8601 instant or unix seconds")
        extra = set(params) - {"seconds", "until"}
    problems.extend(f"params.{k}: unknown parameter" for k in sorted(extra))
    return problems


def _instant(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None


@dataclass(frozen=True, slots=True)
class Received:
    """A signal wait found signal ``id`` of ``name``: the step's output is ``data``,
    and its resolution consumes the signal."""

    name: str
    id: str
    data: Any


@dataclass(frozen=True, slots=True)
class Parked:
    """The step is parked: nothing to record yet. ``signal`` names the signal it
    waits for (checked once more after its lease is released: a wake-up sent while
    this worker held the lease would otherwise be lost); ``wake`` is the timer to
    set, ``(at, job)``, once the lease is released (a timer that fired while it is
    held would find the step busy)."""

    signal: str | None = None
    wake: tuple[float, Job] | None = None


async def wait(store: RunStore, now: float, node: CompiledNode, job: Job, value: Any) -> Any:
    """The step's output, or ``Parked`` if it waits on a timer or a signal. ``value``
    is the step's input (a sleep passes it on)."""
    if node.impl.kind == "sleep":
        return await _sleep(store, now, node, job, value)
    if node.impl.kind == "event":  # ``value``, the step's input, is its key
        event, key = node.params["event"], events.event_key(value)
        name = await events.register(store, job, event, key, now)
        found = await store.next_signal(job.run_id, name)
        if found is not None or (job.deadline is not None and now + _EARLY >= job.deadline):
            await events.unregister(store, job, event, key)
        if found is not None:
            return Received(name, *found)
        what = f"event {event!r} with key {key!r}"
    else:
        name = signal_name(node.params["signal"], node.params.get("key"))
        found = await store.next_signal(job.run_id, name)
        if found is None:
            parked = stamp(msgspec.structs.replace(job, deadline=None))
            await store.add_waiter(job.run_id, name, parked)
            found = await store.next_signal(job.run_id, name)
        if found is not None:
            return Received(name, *found)
        what = f"signal {name!r}"
    if job.deadline is not None:
        if now + _EARLY >= job.deadline:
            raise StepTimeoutError(f"no {what} within {node.timeout}s")
        return Parked(name)
    until = now + node.timeout if node.timeout is not None else None
    await store.append_event(
        job.run_id,
        StepWaiting(at=now, step_id=job.step_id, node=node.id, signal=name, until=until),
    )
    wake = (until, msgspec.structs.replace(job, deadline=until)) if until is not None else None
    return Parked(name, wake)


async def _sleep(store: RunStore, now: float, node: CompiledNode, job: Job, value: Any) -> Any:
    deadline = job.deadline
    if deadline is None:
        seconds = node.params.get("seconds")
        deadline = now + float(seconds) if seconds is not None else _instant(node.params["until"])
        assert deadline is not None
        if deadline <= now:
            return value
        await store.append_event(
            job.run_id, StepWaiting(at=now, step_id=job.step_id, node=node.id, until=deadline)
        )
    elif now + _EARLY >= deadline:
        return value
    return Parked(wake=(deadline, msgspec.structs.replace(job, deadline=deadline)))
