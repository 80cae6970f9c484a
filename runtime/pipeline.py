"""The step pipeline's core: what one job does, once its middleware has run.

``StepCore.handle`` is idempotent. Effects are ordered so that a crash at any
point is repaired by handling the job again: the step's resolution is written
first (one atomic, fenced write), then its arrivals, then successor jobs.

- A job whose step is resolved does not run the node again: it re-delivers the
  step's arrivals (repairing lost join state) and publishes the successors that
  are not resolved yet (no cascade of re-drives down a finished path).
- A job whose step's lease another worker holds is handed over: it is
  re-published when that lease expires, so if its holder died the step is
  taken over then, and if it lives the handed-over job finds it resolved.
- A job of an attempt that already failed (a timer that fired twice, a
  redelivery) runs nothing again: it completes what that failure started (the
  retry timer, the fallback, the run's failure), all idempotent.
- Otherwise the worker claims the step with its fencing token, runs the node
  under its lease and records the outcome; a transient error while recording
  retries the write, not the node.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from legato.runtime import metrics, outcomes
from legato.runtime.attempt import Attempts, Done, Failed
from legato.runtime.ending import RunEnding
from legato.runtime.errors import BackendUnavailableError, FencingError
from legato.runtime.inputs import input_steps
from legato.runtime.lease import Holding, Leases
from legato.runtime.ports import Backend
from legato.runtime.registry import CompiledNode, Registry
from legato.runtime.routing import Router
from legato.runtime.tracing import stamp, step_failed
from legato.runtime.waits import Parked
from legato.schemas import Job, RunHeader, StepFailed, StepRecord

log = logging.getLogger("legato.pipeline")
T = TypeVar("T")
_HANDOVER_MARGIN = 0.05  # seconds after a holder's lease expires


@dataclass(slots=True)
class Work:
    """One job on its way through the pipeline."""

    job: Job
    headers: Any = None  # the delivery's transport headers
    holding: Holding | None = None  # set by the lease middleware


class RegistrySource(Protocol):
    async def get(self, blueprint_id: str, version: str) -> Registry:
        """The compiled registry; raises ``UnknownBlueprintError`` if unavailable."""


class StepCore:
    """Runs jobs against a backend; holds no per-run state."""

    def __init__(
        self,
        backend: Backend,
        registries: RegistrySource,
        leases: Leases,
        ending: RunEnding,
        *,
        worker_id: str,
        max_value_bytes: int,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = backend.store
        self.bus = backend.bus
        self.timers = backend.timers
        self.clock = backend.clock
        self.registries = registries
        self.leases = leases
        self.ending = ending
        self.router = Router(backend.store, backend.coordinator, ending, self.clock.now)
        self.attempts = Attempts(
            backend.store,
            backend.timers,
            backend.clock,
            leases,
            worker_id=worker_id,
            max_value_bytes=max_value_bytes,
        )
        self.rng = rng

    async def handle(self, work: Work) -> None:
        job, holding = work.job, work.holding
        assert holding is not None, "the lease middleware runs before the core"
        reg = await self.registries.get(job.blueprint, job.version)
        node = reg.nodes[job.node]
        wanted = input_steps(reg, node, job) if holding.token is not None else ()
        view = await self.store.read_step(job.run_id, job.step_id, wanted)
        header = view.header
        if header is None:  # its history expired (or was deleted): nothing to do
            log.warning("job %s/%s of an unknown run dropped", job.run_id, job.step_id)
            return
        if header.status != "running":
            return
        if view.record is not None:
            if not job.watchdog:  # a watchdog only checks that its step ended
                await self.redrive(reg, header, node, job.iteration, view.record)
            return
        if holding.token is None:
            await self.hand_over(job, holding.grant.held_for)
            return
        await self.store.claim_step(job.run_id, job.step_id, holding.token)
        failed = view.failure
        if failed is not None and failed.attempt >= job.attempt:
            await self.after_failure(reg, header, node, job, view.inputs, holding, failed)
            return
        outcome = await self.attempts.run(reg, header, node, job, view.inputs, holding)
        if isinstance(outcome, Parked):
            await self.park(job, holding, outcome)
        elif isinstance(outcome, Done):
            await self.complete(reg, header, node, job, holding, outcome.completion)
        else:
            await self.fail(reg, header, node, job, view.inputs, holding, outcome.error)

    # -- recording -----------------------------------------------------------------------

    async def complete(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        holding: Holding,
        done: outcomes.Completion,
    ) -> None:
        def resolve() -> Awaitable[StepRecord]:
            return self.store.resolve_step(
                job.run_id, job.step_id, done.record, done.event, done.context, holding.token
            )

        try:
            try:
                record = await resolve()
            except BackendUnavailableError:
                record = await self.write(holding, resolve)
        except FencingError:
            log.warning("%s/%s was taken over; dropping this result", job.run_id, job.step_id)
            return
        holding.resolved = True
        metrics.step_completed(job.blueprint, node.id, done.event.at - done.event.started_at)
        jobs = await self.router.successors(reg, header, node, job.iteration, record)
        if jobs:
            await self.bus.publish(jobs)

    async def write(self, holding: Holding, write: Callable[[], Awaitable[T]]) -> T:
        """Retry a write through a server outage while the lease holds: the outcome is
        kept, the node does not run again."""
        delay = 0.05
        while True:
            try:
                return await write()
            except BackendUnavailableError as exc:
                holding.check()
                log.warning("recording %s failed, retry in %.2fs: %s", holding.step_id, delay, exc)
                await self.clock.sleep(delay * (0.5 + self.rng()))
                delay = min(delay * 2, 5.0)

    async def park(self, job: Job, holding: Holding, parked: Parked) -> None:
        """A wait parked: release the lease, then look for the signal once more (a
        wake-up job that arrived while the lease was held was handed over)."""
        await self.leases.release_now(holding)
        if parked.wake is not None:
            at, wake = parked.wake
            await self.timers.schedule(at, stamp(wake))
        if parked.signal is not None:
            found, _ = await self.store.get_signal(job.run_id, parked.signal)
            if found:
                await self.bus.publish([job])

    # -- re-drives and hand-overs ----------------------------------------------------------

    async def redrive(
        self, reg: Registry, header: RunHeader, node: CompiledNode, it: int, record: StepRecord
    ) -> None:
        """A resolved step's job again: deliver its arrivals, publish what is unresolved."""
        jobs = await self.router.successors(reg, header, node, it, record)
        if jobs:
            done = await self.store.get_steps(header.run_id, [j.step_id for j in jobs])
            jobs = [j for j in jobs if j.step_id not in done]
        if jobs:
            await self.bus.publish(jobs)

    async def hand_over(self, job: Job, held_for: float) -> None:
        """Another worker holds the step: re-publish the job when its lease expires."""
        await self.timers.schedule(self.clock.now() + held_for + _HANDOVER_MARGIN, stamp(job))

    # -- failures ------------------------------------------------------------------------

    async def fail(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        inputs: dict[str, StepRecord],
        holding: Holding,
        exc: Exception,
    ) -> None:
        failed = outcomes.failure(node, job, exc, now=self.clock.now(), rng=self.rng)
        report_failure(job, failed, exc)
        if await self.record_failure(job, holding, failed):
            await self.after_failure(reg, header, node, job, inputs, holding, failed)

    async def record_failure(self, job: Job, holding: Holding, failed: StepFailed) -> bool:
        """Record a failed attempt (fenced); False if the step was taken over."""
        try:
            await self.write(
                holding, lambda: self.store.record_failure(job.run_id, failed, holding.token)
            )
        except FencingError:
            log.warning("%s/%s was taken over; dropping its failure", job.run_id, job.step_id)
            return False
        metrics.step_failed(job.blueprint, failed.node, retried=failed.retry_at is not None)
        return True

    async def after_failure(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        inputs: dict[str, StepRecord],
        holding: Holding,
        failed: StepFailed,
    ) -> None:
        """What follows a recorded failure: its retry timer, else the fallback, else
        the run's failure. Idempotent, so a redelivered job of a failed attempt
        finishes what a crash interrupted."""
        if failed.retry_at is not None:
            if failed.attempt == job.attempt:  # a stale job of an older attempt: nothing
                # Released first: a retry due at once must not find this attempt's lease.
                await self.leases.release_now(holding)
                retry = msgspec.structs.replace(job, attempt=job.attempt + 1, deadline=None)
                await self.timers.schedule(failed.retry_at, stamp(retry))
            return
        if node.fallback is not None:
            fb = reg.nodes[node.fallback]
            outcome = await self.attempts.run(
                reg, header, node, job, inputs, holding, fallback=fb, error=failed.error
            )
            if isinstance(outcome, Done):
                await self.complete(reg, header, node, job, holding, outcome.completion)
                return
            if isinstance(outcome, Failed):
                fb_failed = outcomes.failure(
                    node, job, outcome.error, now=self.clock.now(), rng=self.rng, failed_node=fb.id
                )
                report_failure(job, fb_failed, outcome.error)
                if not await self.record_failure(job, holding, fb_failed):
                    return
        fence = (job.step_id, holding.token) if holding.token is not None else None
        error = f"step {job.step_id} failed: {failed.error}"
        try:
            await self.write(
                holding, lambda: self.ending.fail(header.run_id, error, job.step_id, fence)
            )
        except FencingError:
            log.warning("%s/%s was taken over; not failing its run", job.run_id, job.step_id)


def report_failure(job: Job, failed: StepFailed, exc: BaseException) -> None:
    """Log a failed attempt with its run, step, attempt and traceback, and mark the
    step's span failed (status ERROR, an exception event)."""
    retry = f"; retry at {failed.retry_at:.3f}" if failed.retry_at is not None else ""
    log.log(
        logging.WARNING if failed.retry_at is not None else logging.ERROR,
        "step %s (node %s) of run %s failed, attempt %d: %s%s",
        failed.step_id,
        failed.node,
        job.run_id,
        failed.attempt,
        failed.error,
        retry,
        exc_info=exc,
    )
    step_failed(exc, failed.error)
