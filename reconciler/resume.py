"""Resuming a run from its history: what the reconciler does to one stalled run.

The reconciler does not reimplement routing: it folds the run's history
(``legato.runtime.history.fold``, the one model of a run's state) and re-drives
every resolved step through the runtime's own ``Router`` (arrivals are
idempotent, so this also rebuilds join state Redis lost). It publishes the
steps that should run but are neither resolved, nor waiting on a live timer,
nor leased by a live worker, and fails runs whose outcome the history already
decides. It needs the blueprint's structure only, not its node code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec

from legato.runtime.ending import RunEnding
from legato.runtime.foreach import Fanout, first_jobs
from legato.runtime.history import RunState, StepState, fold
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.ports import Backend
from legato.runtime.registry import Registry
from legato.runtime.routing import Router
from legato.runtime.steps import StepId
from legato.runtime.tracing import stamp
from legato.schemas import Job, RunHeader


@dataclass(frozen=True, slots=True)
class Resumption:
    """What resuming one run did."""

    run_id: str
    jobs: int  # steps re-enqueued
    failed: bool = False  # the run was failed because its history says so
    leased: int = 0  # steps left alone: a live worker holds their lease
    recheck_at: float | None = None  # nothing to do before then (None: before progress)


class Resumer:
    """Resumes runs of one backend."""

    def __init__(
        self,
        backend: Backend,
        ending: RunEnding,
        *,
        retry_grace: float = 30.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.backend = backend
        self.ending = ending
        self.router = Router(backend.store, backend.coordinator, ending, backend.clock.now)
        self.fanout = Fanout(
            backend.store,
            backend.coordinator,
            self.router,
            backend.clock.now,
            worker="reconciler",
            max_value_bytes=limits.output_bytes,
        )
        self.retry_grace = retry_grace

    async def resume(self, header: RunHeader, reg: Registry, *, now: float) -> Resumption:
        """Bring a running run forward from its history (idempotent)."""
        run_id = header.run_id
        state = fold(await self.backend.store.history(run_id), reg)
        gave_up = _gave_up(reg, state)
        if gave_up is not None:
            await self.ending.fail(
                run_id, f"step {gave_up} failed (recovered from history)", gave_up
            )
            return Resumption(run_id, 0, failed=True)
        resolved = {sid: st.record() for sid, st in state.steps.items() if st.resolved}
        jobs: dict[str, Job] = {}
        for name in reg.start:
            sid = reg.nodes[name].step_id(0)
            if sid not in resolved:
                jobs[sid] = Job(run_id, sid, name, reg.id, reg.version)
        for sid, rec in resolved.items():
            node = reg.nodes.get(rec.node)
            position = StepId.parse(sid)
            if node is None or (node.loop is not None and position.iteration is None):
                continue  # not of this blueprint, or a loop's exit alias (re-made below)
            if position.item is not None:  # a foreach item: its chain and its node's gather
                parent = state.steps.get(position.parent)
                if parent is None or parent.items is None or node.foreach is None:
                    continue
                item = Job(run_id, sid, node.id, reg.id, reg.version, position.position)
                item = _with_item(item, position.item, parent.items)
                for job in await self.fanout.successors(reg, header, node, item, resolved=resolved):
                    jobs.setdefault(job.step_id, job)
                continue
            for job in await self.router.successors(
                reg, header, node, position.position, rec, resolved=resolved
            ):
                jobs.setdefault(job.step_id, job)
        for sid, st in state.steps.items():  # foreach steps whose items were never started
            node = reg.nodes.get(st.node)
            if st.items and node is not None and node.foreach is not None and not st.resolved:
                own = Job(run_id, sid, node.id, reg.id, reg.version, StepId.parse(sid).position)
                for job in first_jobs(own, node, st.items):
                    if job.step_id not in resolved:
                        jobs.setdefault(job.step_id, job)
        due: list[Job] = []
        later: list[float] = []
        for sid, job in jobs.items():
            again = self._again(job, state, state.steps.get(sid), now, later)
            if again is not None:
                due.append(again)
        # A step whose lease is live is running on a worker that heartbeats: leave it.
        coordinator = self.backend.coordinator
        held = await asyncio.gather(*(coordinator.lease_held(run_id, j.step_id) for j in due))
        out = [stamp(j, state.trace) for j, h in zip(due, held, strict=True) if not h]
        if out:
            await self.backend.bus.publish(out)
        return Resumption(run_id, len(out), leased=sum(held), recheck_at=min(later, default=None))

    def _again(
        self, job: Job, state: RunState, st: StepState | None, now: float, later: list[float]
    ) -> Job | None:
        """The job to publish for an unresolved step that should run, or None (it
        waits on a timer that has not been lost; ``later`` gets that timer's time)."""
        if st is None:
            return job
        attempt = st.attempts + 1 if st.status == "waiting" else st.attempts
        if st.status == "waiting":
            if st.signal is not None and st.signal in state.signals:
                return _with(job, max(attempt, 1), None)  # its wake-up was lost
            if st.until is None:
                return None  # its signal resumes it
            if st.until + self.retry_grace <= now:  # its timer was lost
                return _with(job, max(attempt, 1), st.until)
            later.append(st.until + self.retry_grace)
            return None
        if st.status == "failed":  # failed for good, its fallback had not run: run it
            return _with(job, attempt, None)
        assert st.retry_at is not None
        if st.retry_at + self.retry_grace <= now:  # its retry timer was lost
            return _with(job, attempt + 1, None)
        later.append(st.retry_at + self.retry_grace)
        return None


def _gave_up(reg: Registry, state: RunState) -> str | None:
    """A step whose history says the run has failed: its last attempt failed with no
    retry left and no fallback to run, or its fallback failed."""
    for sid, st in state.steps.items():
        if st.status != "failed":
            continue
        node = reg.nodes.get(st.node)
        if st.fallback is not None or node is None or node.fallback is None:
            return sid
    return None


def _with(job: Job, attempt: int, deadline: float | None) -> Job:
    return msgspec.structs.replace(job, attempt=attempt, deadline=deadline)


def _with_item(job: Job, index: int, count: int) -> Job:
    return msgspec.structs.replace(job, index=index, items=count)
