"""The worker role: consume jobs, run them through the step pipeline, fire timers, drain.

A worker needs no client: it only handles the jobs its bus delivers. Each
delivery is acknowledged once the pipeline has handled it (its effects are
recorded, or it was handed over); a job whose handling raised is left
unacknowledged and is delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from legato.runtime import metrics
from legato.runtime.ending import RunEnding
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.lease import Leases
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.middleware import (
    Backoff,
    Containment,
    Lease,
    LogScope,
    Middleware,
    Tracing,
    UnknownBlueprint,
    chain,
)
from legato.runtime.outages import Outage
from legato.runtime.pipeline import RegistrySource, StepCore, Work
from legato.runtime.ports import Backend, Delivery

log = logging.getLogger("legato.worker")
_STOP_RECHECK = 1.0  # seconds between cancels of a worker task that does not stop


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs steps.

    Attributes:
        concurrency: jobs handled at once.
        worker_id: names this worker in leases and history (default: random).
        lease_ttl: seconds a step's lease lasts without a heartbeat: how soon a
            dead worker's step may run elsewhere.
        heartbeat_interval: seconds between heartbeats of a running step (default:
            a quarter of ``lease_ttl``).
        limits: size bounds; ``output_bytes`` bounds a step's output and each
            context value, ``input_bytes`` a run's input (``legato.runtime.limits``).
        backoff_initial: first delay before a job is handled again after an outage.
        backoff_max: the longest such delay.
        max_redeliveries: times a job this worker cannot compile is re-published
            for another worker before its run fails.
        redelivery_delay: the first delay of those re-publications (it doubles).
    """

    concurrency: int = 64
    worker_id: str | None = None
    lease_ttl: float = 10.0
    heartbeat_interval: float | None = None
    limits: Limits = DEFAULT_LIMITS
    backoff_initial: float = 0.2
    backoff_max: float = 30.0
    max_redeliveries: int = 12
    redelivery_delay: float = 1.0

    @property
    def heartbeat(self) -> float:
        return self.heartbeat_interval or self.lease_ttl / 4


class Worker:
    """Handles the jobs of one backend with ``settings.concurrency`` tasks."""

    def __init__(
        self,
        backend: Backend,
        registries: RegistrySource,
        settings: WorkerSettings,
        ending: RunEnding,
        *,
        tracer: Any = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.worker_id = settings.worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self.leases = Leases(
            backend.coordinator,
            backend.store,
            backend.clock,
            owner=self.worker_id,
            ttl=settings.lease_ttl,
            interval=settings.heartbeat,
        )
        ending.listeners.append(self.leases.end_run)
        self.core = StepCore(
            backend,
            registries,
            self.leases,
            ending,
            worker_id=self.worker_id,
            max_value_bytes=settings.limits.output_bytes,
        )
        if middleware is None:
            middleware = default_middleware(backend, ending, self.leases, settings, tracer)
        self.handle = chain(middleware, self.core.handle)
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def busy(self) -> int:
        """Jobs being handled right now."""
        return self._busy

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        """Start consuming (idempotent), and polling timers if they need it."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"legato-worker-{i}")
            for i in range(self.settings.concurrency)
        ]
        if self.backend.timers.poll_interval is not None:
            self._tasks.append(asyncio.create_task(self._poll_timers(), name="legato-timers"))

    async def process(self, delivery: Delivery) -> bool:
        """Handle one delivery and acknowledge it; False (not acknowledged) if its
        handling raised: the bus delivers it again."""
        self._busy += 1
        self._idle.clear()
        if delivery.published_at is not None:
            wait = self.backend.clock.now() - delivery.published_at
            metrics.step_queue_wait(delivery.job.blueprint, delivery.job.node, wait)
        try:
            await self.handle(Work(delivery.job, delivery.headers))
        except Exception:
            job = delivery.job
            log.exception(
                "job %s/%s not handled; it will be delivered again", job.run_id, job.step_id
            )
            return False
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()
        await delivery.ack()
        return True

    async def _consume(self) -> None:
        async for delivery in self.backend.bus.consume():
            await self.process(delivery)

    async def _poll_timers(self) -> None:
        timers, clock = self.backend.timers, self.backend.clock
        interval = timers.poll_interval or 0.1
        delay = interval
        outage = Outage(log, "timers")
        while True:
            try:
                metrics.timers_fired(await timers.fire_due(self.backend.bus, clock.now()))
                delay = interval
                outage.recovered()
            except BackendUnavailableError as exc:
                outage.failed(exc, delay)
                delay = min(delay * 2, self.settings.backoff_max)
            except Exception:
                log.exception("firing timers failed")
            await clock.sleep(delay)

    async def drain(self, timeout: float = 30.0) -> bool:
        """Stop taking jobs, let the ones in hand finish (up to ``timeout``), then stop.
        Returns False if some were still running at the deadline (they are redelivered)."""
        self.backend.bus.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        finished = self._busy == 0
        await self.stop()
        return finished

    async def stop(self) -> None:
        """Stop the consumer tasks and heartbeats (the backend stays open).

        A task that absorbed a cancellation (a step converting the cancel of its
        ended run into its own outcome at the same moment) is cancelled again: stopping
        never waits for a task that no longer knows it should stop."""
        pending = set(self._tasks)
        while pending:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=_STOP_RECHECK)
            if pending:
                log.warning("%d worker task(s) still running after a cancel; again", len(pending))
        for t in self._tasks:
            if not t.cancelled() and t.exception() is not None:
                log.error("worker task %s ended with %r", t.get_name(), t.exception())
        self._tasks = []
        await self.leases.close()


def default_middleware(
    backend: Backend,
    ending: RunEnding,
    leases: Leases,
    settings: WorkerSettings,
    tracer: Any = None,
) -> list[Middleware]:
    """The middleware of a worker, outermost first (see ``legato.runtime.middleware``)."""
    clock = backend.clock
    out: list[Middleware] = [LogScope()]
    if tracer is not None:
        out.append(Tracing(tracer))
    out += [
        Containment(ending, clock),
        Backoff(clock, settings.backoff_initial, settings.backoff_max),
        UnknownBlueprint(
            backend.timers,
            ending,
            clock,
            limit=settings.max_redeliveries,
            delay=settings.redelivery_delay,
        ),
        Lease(leases),
    ]
    return out
