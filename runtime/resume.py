"""Resuming a run from its history (the reconciler, and a timed step's watchdog).

The reconciler does not reimplement routing: it re-drives every resolved step
through the executor's own ``route_jobs`` (arrivals are idempotent, so this
also rebuilds join state that Redis lost), publishes the steps that should run
but are neither resolved, nor waiting on a live timer, nor leased by a live
worker, and finishes runs whose outcome is already decided by the history. It
needs the blueprint's structure only, not its node code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from legato.runtime.registry import Registry
from legato.schemas import Job, RunHeader, StepFailed, StepRecord, StepWaiting

if TYPE_CHECKING:  # the executor calls resume_run for a watchdog
    from legato.runtime.executor import Executor


@dataclass(frozen=True, slots=True)
class Resumption:
    """What resuming one run did."""

    run_id: str
    jobs: int  # steps re-enqueued
    failed: bool = False  # the run was failed because its history says so
    leased: int = 0  # steps left alone: a live worker holds their lease


@dataclass(frozen=True, slots=True)
class _Pending:
    attempt: int
    retry_at: float | None
    node: str


def _real_steps(reg: Registry, steps: dict[str, StepRecord]) -> list[tuple[str, int, StepRecord]]:
    """Resolved steps to re-drive: (node, iteration, record); loop-exit aliases are
    re-created by re-driving the loop's last iteration."""
    out = []
    for step_id, rec in steps.items():
        node = reg.nodes.get(rec.node)
        if node is None:
            continue
        if node.loop is not None:
            _, sep, it = step_id.rpartition("#")
            if not sep:
                continue  # the alias of a loop's exit
            out.append((rec.node, int(it), rec))
        else:
            out.append((rec.node, 0, rec))
    return out


async def resume_run(
    executor: Executor, header: RunHeader, reg: Registry, *, now: float, retry_grace: float = 30.0
) -> Resumption:
    """Bring a running run forward from its history (idempotent)."""
    store = executor.store
    run_id = header.run_id
    steps = await store.all_steps(run_id)
    pending: dict[str, _Pending] = {}
    waiting: dict[str, float | None] = {}
    for event in await store.history(run_id):
        if isinstance(event, StepFailed) and event.step_id not in steps:
            pending[event.step_id] = _Pending(event.attempt, event.retry_at, event.node)
        elif isinstance(event, StepWaiting) and event.step_id not in steps:
            waiting[event.step_id] = event.until
    for step_id, failure in pending.items():
        gave_up = failure.retry_at is None and reg.nodes[failure.node].fallback is None
        if failure.node in reg.fallbacks or gave_up:
            await executor.fail_run(
                run_id, f"step {step_id} failed (recovered from history)", step_id
            )
            return Resumption(run_id, 0, failed=True)
    jobs: dict[str, Job] = {}
    for name in reg.start:
        node = reg.nodes[name]
        sid = node.step_id(0)
        if sid not in steps:
            jobs[sid] = Job(run_id, sid, name, reg.id, reg.version)
    for name, it, rec in _real_steps(reg, steps):
        for job in await executor.route_jobs(reg, header, reg.nodes[name], it, rec, resolved=steps):
            jobs.setdefault(job.step_id, job)
    out = []
    for sid, job in jobs.items():
        p = pending.get(sid)
        if sid in waiting:
            until = waiting[sid]
            if until is not None and until + retry_grace <= now:  # its timer was lost
                out.append(_with(job, job.attempt, until))
        elif p is None:
            out.append(job)
        elif p.retry_at is None:  # failed for good, its fallback had not run: run it again
            out.append(_with(job, p.attempt, None))
        elif p.retry_at + retry_grace <= now:  # its retry timer was lost
            out.append(_with(job, p.attempt + 1, None))
    # A step whose lease is live is running on a worker that heartbeats: leave it.
    held = await asyncio.gather(*(executor.coordinator.lease_held(run_id, j.step_id) for j in out))
    out, leased = [j for j, h in zip(out, held, strict=True) if not h], sum(held)
    if out:
        await executor.bus.publish(out)
    return Resumption(run_id, len(out), leased=leased)


def _with(job: Job, attempt: int, deadline: float | None) -> Job:
    return msgspec.structs.replace(job, attempt=attempt, deadline=deadline)
