"""Events by name and key: ``uses: legato.wait_for_event`` and ``publish``.

An event is delivered into each waiting run's signal queue, under the signal
name ``event_signal(name, key)`` and with the event's id as the signal's dedupe
key, so everything signals guarantee holds for events too: a wait consumes one
event, exactly once, in the step's resolution; a redelivered publish (same id)
or a retained event offered twice is kept once per run.

Order of effects, so that no wake-up is lost: a waiter registers (per run, then
in the (name, key) index of waiters), then takes the retained events of its name
and key into its run's queue, then looks at its queue. A publisher retains the
event first (when asked to), then reads the waiters and delivers to each. A
waiter that registers after a publisher read the waiters and finds no retained
event started waiting after the event: it does not get it (as documented).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import msgspec

from legato.runtime.errors import NonRetryableError
from legato.runtime.ports import Backend, RunStore
from legato.runtime.tracing import stamp
from legato.schemas import Job, SignalReceived

_CONCURRENCY = 64  # deliveries in flight per publish


def event_signal(name: str, key: str) -> str:
    """The signal name an event of ``name`` and ``key`` is queued under in a run."""
    return f"@event/{name}/{key}"


def new_event_id() -> str:
    """Sortable (time first) and unique."""
    return f"{time.time_ns():020d}{os.urandom(6).hex()}"


def event_key(value: Any) -> str:
    """The key a wait's ``params.key`` expression gave: a string or an integer."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise NonRetryableError(
        f"the event key expression gave {type(value).__name__} {value!r}, not a string"
    )


async def register(store: RunStore, job: Job, name: str, key: str, now: float) -> str:
    """Register the step as a waiter and take the retained events into its run's
    queue; returns the signal name to look for."""
    signal = event_signal(name, key)
    parked = stamp(_undeadlined(job))
    await store.add_waiter(job.run_id, signal, parked)
    await store.add_event_waiter(name, key, parked)
    for event_id, data in await store.retained_events(name, key, now):
        received = SignalReceived(at=now, name=signal, data=data)
        await store.put_signal(job.run_id, signal, data, received, event_id)
    return signal


async def unregister(store: RunStore, job: Job, name: str, key: str) -> None:
    """The step took an event (or gave up): later publishes are not for it."""
    await store.remove_event_waiter(name, key, job.run_id, job.step_id)


def _undeadlined(job: Job) -> Job:
    return msgspec.structs.replace(job, deadline=None)


async def publish(
    backend: Backend,
    name: str,
    key: str,
    data: Any = None,
    *,
    retain: float = 0.0,
    event_id: str | None = None,
) -> int:
    """Deliver an event to every run waiting for ``name`` and ``key``, and, for
    ``retain`` seconds, to runs that start waiting for it. Returns how many waiting
    steps it was delivered to. ``event_id`` makes publishing idempotent."""
    store = backend.store
    eid = event_id or new_event_id()
    now = backend.clock.now()
    if retain > 0:
        await store.retain_event(name, key, eid, data, now + retain)
    signal = event_signal(name, key)
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def deliver(job: Job) -> Job | None:
        async with sem:
            header = await store.get_run(job.run_id)
            done = header is None or header.status not in ("running", "paused")
            if not done:  # a step that took another event already waits no more
                done = bool(await store.get_steps(job.run_id, [job.step_id]))
            if done:
                await store.remove_event_waiter(name, key, job.run_id, job.step_id)
                return None
            received = SignalReceived(at=now, name=signal, data=data)
            await store.put_signal(job.run_id, signal, data, received, eid)
            return job

    delivered = await asyncio.gather(*map(deliver, await store.event_waiters(name, key)))
    wake = [job for job in delivered if job is not None]
    if wake:
        await backend.bus.publish(wake)
    return len(wake)
