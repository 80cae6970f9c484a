"""Pausing and resuming a run.

A paused run starts no new step: a job of a paused run is *held* (kept in the
run's partition, ``RunStore.hold_job``) instead of run, and resuming publishes the
held jobs again. Steps that were running when the run was paused finish and
record (their heartbeat stops a step only when its run has ended), and their
successors' jobs are held. A durable timer that fires while the run is paused
publishes its job as usual; the job is held, so the timer fires, in effect, on
resume; a timer due later fires then.

No lost job between the two: a holder keeps the job, then reads the status again
and publishes the job itself if the run runs again; ``resume`` sets the status
first and then publishes what is held. A job published twice this way is one more
redelivery, which changes nothing.
"""

from __future__ import annotations

from legato.runtime.errors import RunNotFoundError, RunStateError
from legato.runtime.ports import Backend, JobBus, RunStore
from legato.schemas import Job, RunPaused, RunResumed


def held_key(job: Job) -> str:
    """Held jobs are kept once per distinct job (a redelivery is the same job)."""
    return f"{job.step_id}|{job.attempt}|{job.deadline}|{job.trigger}|{int(job.watchdog)}"


async def hold(store: RunStore, bus: JobBus, job: Job) -> None:
    """Keep a job of a paused run until it is resumed."""
    await store.hold_job(job.run_id, job)
    header = await store.get_run(job.run_id)
    if header is not None and header.status == "running":  # resumed meanwhile
        await bus.publish([job])


async def pause(backend: Backend, run_id: str, reason: str = "") -> None:
    """Pause a running run; ``RunStateError`` if it is not running."""
    header = await backend.store.get_run(run_id)
    if header is None:
        raise RunNotFoundError(f"run {run_id!r} does not exist")
    event = RunPaused(at=backend.clock.now(), reason=reason)
    if not await backend.store.set_status(run_id, "running", "paused", event):
        now = await backend.store.get_run(run_id)
        status = now.status if now is not None else header.status
        raise RunStateError(f"run {run_id!r} is {status}, not running: it cannot be paused")


async def resume(backend: Backend, run_id: str) -> int:
    """Resume a paused run; returns how many held jobs were published again.
    ``RunStateError`` if it is not paused."""
    header = await backend.store.get_run(run_id)
    if header is None:
        raise RunNotFoundError(f"run {run_id!r} does not exist")
    event = RunResumed(at=backend.clock.now())
    if not await backend.store.set_status(run_id, "paused", "running", event):
        now = await backend.store.get_run(run_id)
        status = now.status if now is not None else header.status
        raise RunStateError(f"run {run_id!r} is {status}, not paused: it cannot be resumed")
    return await release(backend, run_id)


async def release(backend: Backend, run_id: str) -> int:
    """Publish a running run's held jobs again (idempotent: also after a crash
    between ``set_status`` and here, a second ``release`` finishes it)."""
    jobs = await backend.store.held_jobs(run_id)
    if jobs:
        await backend.bus.publish(jobs)
        await backend.store.drop_held(run_id, jobs)
    return len(jobs)
