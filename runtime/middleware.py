"""Per-job concerns, as an explicit list wrapped around the step pipeline's core.

Each middleware ``wrap``s the handler after it and returns a handler, so the
order of ``default_middleware`` is the order a job passes through them, from
the outside in:

1. ``LogScope``: log records carry the job's run, step and attempt, and the
   ``legato_steps_in_flight`` gauge counts the job.
2. ``Tracing``: the step's consumer span, a child of the span that published it.
3. ``Containment``: an error nothing else handled fails the run, saying where.
4. ``Backoff``: a retryable error (a server outage, a lost lease) handles the
   job again after a capped exponential delay; the job is never dropped.
5. ``UnknownBlueprint``: a job this worker cannot compile is left for a worker
   that can (re-published with a growing delay), then fails its run.
6. ``Lease``: the step's lease is held around the core (``Leases.acquire``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import msgspec

from legato.runtime import metrics
from legato.runtime.clock import Clock
from legato.runtime.ending import RunEnding
from legato.runtime.errors import BackendUnavailableError, LegatoError, UnknownBlueprintError
from legato.runtime.lease import Leases
from legato.runtime.logcontext import reset_job, set_job
from legato.runtime.outages import Outage
from legato.runtime.pipeline import Work
from legato.runtime.ports import Timers
from legato.runtime.tracing import stamp, step_span

log = logging.getLogger("legato.worker")
Handler = Callable[[Work], Awaitable[None]]


class Middleware(Protocol):
    def wrap(self, call_next: Handler) -> Handler:
        """A handler that does this middleware's part around ``call_next``."""


def chain(middleware: Sequence[Middleware], core: Handler) -> Handler:
    handler = core
    for m in reversed(middleware):
        handler = m.wrap(handler)
    return handler


class LogScope:
    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            token = set_job(work.job)
            metrics.in_flight(1)
            try:
                await call_next(work)
            finally:
                metrics.in_flight(-1)
                reset_job(token)

        return handle


class Tracing:
    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            with step_span(self.tracer, work.job, work.headers):
                await call_next(work)

        return handle


class Containment:
    """The last line: an unexpected error fails the job's run, saying where (the
    error is logged with its traceback)."""

    def __init__(self, ending: RunEnding, clock: Clock) -> None:
        self.ending = ending
        self.clock = clock

    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            job = work.job
            try:
                await call_next(work)
            except Exception as exc:
                log.exception("job %s/%s failed inside Legato", job.run_id, job.step_id)
                error = f"internal error at {job.step_id}: {exc!r}"
                delay = 0.2
                while True:  # failing the run must not be lost to an outage either
                    try:
                        await self.ending.fail(job.run_id, error, job.step_id)
                        return
                    except LegatoError as again:
                        if not again.retryable:
                            log.error("could not fail run %s: %s", job.run_id, again)
                            return
                        await self.clock.sleep(delay)
                        delay = min(delay * 2, 30.0)

        return handle


class Backoff:
    """Handle the job again after a retryable error, waiting ``initial`` seconds,
    doubling to ``maximum`` (with jitter). A server outage is one warning for all
    the jobs it holds up, and one line when a job gets through again."""

    def __init__(self, clock: Clock, initial: float = 0.2, maximum: float = 30.0) -> None:
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self.outage = Outage(log, "servers (handling jobs)")

    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            delay = self.initial
            while True:
                try:
                    await call_next(work)
                    if self.outage.down:
                        self.outage.recovered()
                    return
                except LegatoError as exc:
                    if not exc.retryable or isinstance(exc, UnknownBlueprintError):
                        raise
                    job = work.job
                    if isinstance(exc, BackendUnavailableError):
                        self.outage.failed(f"job {job.run_id}/{job.step_id}: {exc}", delay)
                    else:
                        log.warning(
                            "handling %s/%s again in %.1fs: %s",
                            job.run_id,
                            job.step_id,
                            delay,
                            exc,
                        )
                    await self.clock.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, self.maximum)

        return handle


class UnknownBlueprint:
    """Leave a job this worker cannot compile for a worker that can: re-published
    after ``delay * 2**n`` seconds (at most a minute), ``limit`` times, then the run
    fails, saying why."""

    def __init__(
        self, timers: Timers, ending: RunEnding, clock: Clock, *, limit: int, delay: float
    ) -> None:
        self.timers = timers
        self.ending = ending
        self.clock = clock
        self.limit = limit
        self.delay = delay

    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            try:
                await call_next(work)
            except UnknownBlueprintError as exc:
                job = work.job
                if job.redeliveries < self.limit:
                    delay = min(60.0, self.delay * 2.0**job.redeliveries)
                    log.warning(
                        "%s; %s/%s re-enqueued in %.0fs", exc, job.run_id, job.step_id, delay
                    )
                    again = msgspec.structs.replace(job, redeliveries=job.redeliveries + 1)
                    await self.timers.schedule(self.clock.now() + delay, stamp(again))
                    return
                error = f"step {job.step_id} could not run on any worker: {exc}"
                await self.ending.fail(job.run_id, error, job.step_id)

        return handle


class Lease:
    def __init__(self, leases: Leases) -> None:
        self.leases = leases

    def wrap(self, call_next: Handler) -> Handler:
        async def handle(work: Work) -> None:
            holding = await self.leases.acquire(work.job.run_id, work.job.step_id)
            work.holding = holding
            try:
                await call_next(work)
            finally:
                await self.leases.finish(holding)

        return handle
