"""Cron schedules on durable timers: no extra process, workers fire them.

A schedule is a row (``BlueprintStore.put_schedule``) plus one durable timer for
its next tick, carrying a *tick job* (node ``@schedule``). The worker that handles
the tick job starts the tick's run, with a run id derived from the schedule and
the tick (``cron.run_id``), so however many workers and duplicate firings there
are, a tick starts one run. It then sets the timer of the next tick and moves the
schedule's *armed* tick forward with a compare-and-set, in that order: a crash
between the two leaves a timer whose firing finds an older armed tick and carries
on (so the chain never breaks); a firing whose tick is older than the armed one
(a duplicate, a timer of a schedule that was re-armed) does nothing.

Ticks missed while no worker ran (the timer fires late) follow ``catch_up``:
``skip`` starts the newest tick only if it is at most ``GRACE`` seconds old (so a
tick fired a little late still runs, missed ones do not), ``latest`` starts the
newest tick whatever its age, ``all`` starts every missed tick (at most
``cron.MAX_CATCH_UP``).
When no worker runs, nothing fires; the timer waits in the store and the first
worker to come back fires it by those rules. A paused schedule's timer fires and
starts nothing; resuming arms the next tick after now (ticks during the pause are
skipped). Embedded, the engine's timers fire the same jobs while it runs.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from legato.runtime import cron
from legato.runtime.control import RunControl
from legato.runtime.cron import ScheduleError, UnknownScheduleError
from legato.runtime.ending import RunEnding
from legato.runtime.errors import LegatoError
from legato.runtime.ports import Backend
from legato.runtime.registries import Registries
from legato.schemas import Blueprint, Job
from legato.schemas.schedules import Schedule

log = logging.getLogger("legato.schedules")
TICK_NODE = "@schedule"
GRACE = 60.0  # seconds: a tick fired later than this was missed (catch_up decides)
_EARLY = 0.0005
_PREFIX = "@schedule/"


def tick_job(name: str, tick: float) -> Job:
    """The job a schedule's timer publishes for ``tick``."""
    return Job(_PREFIX + name, f"tick@{tick!r}", TICK_NODE, "", "", deadline=tick)


def is_tick(job: Job) -> bool:
    return job.node == TICK_NODE


def of_blueprint(bp: Blueprint) -> Schedule | None:
    """The schedule a blueprint's ``schedule:`` declares (named after its id)."""
    spec = bp.schedule
    if spec is None:
        return None
    return Schedule(
        bp.id,
        bp.id,
        spec.cron,
        version=bp.version,
        timezone=spec.timezone,
        input=spec.input,
        catch_up=spec.catch_up,
    )


class Schedules:
    """Adds, steers and fires the schedules of one backend."""

    def __init__(self, backend: Backend, ending: RunEnding, *, grace: float = GRACE) -> None:
        self.backend = backend
        self.store = backend.blueprints
        self.control = RunControl(backend, Registries(backend.blueprints), ending)
        self.grace = grace

    async def declare(self, bp: Blueprint) -> float | None:
        """Add the schedule a registered blueprint declares, if it declares one."""
        sched = of_blueprint(bp)
        return await self.add(sched) if sched is not None else None

    async def add(self, schedule: Schedule) -> float:
        """Add (or replace) a schedule and arm its next tick; returns that tick.
        ``ScheduleError`` for a bad cron expression or time zone or an unknown
        blueprint version; nothing is written then."""
        cron.check(schedule.cron, schedule.timezone)
        version = schedule.version or "1"
        if await self.store.get_blueprint(schedule.blueprint, version) is None:
            raise ScheduleError(
                f"schedule {schedule.name!r}: blueprint {schedule.blueprint!r} version "
                f"{version!r} is not registered"
            )
        if not schedule.name or "/" in schedule.name:
            raise ScheduleError(f"schedule name {schedule.name!r}: non-empty, without '/'")
        await self.store.put_schedule(msgspec.structs.replace(schedule, version=version))
        return await self._arm(schedule.name)

    async def _arm(self, name: str) -> float:
        for _ in range(10):  # a concurrent firing or add may move it meanwhile
            kept = await self._get(name)
            sched, armed = kept
            nxt = cron.next_tick(sched.cron, sched.timezone, self.backend.clock.now())
            await self.backend.timers.schedule(nxt, tick_job(name, nxt))
            if await self.store.arm_schedule(name, armed, nxt):
                return nxt
        raise ScheduleError(f"schedule {name!r} keeps changing; try again")

    async def _get(self, name: str) -> tuple[Schedule, float | None]:
        kept = await self.store.get_schedule(name)
        if kept is None:
            raise UnknownScheduleError(f"no schedule {name!r}")
        return kept

    async def entries(self) -> list[tuple[Schedule, float | None]]:
        """Every schedule and its next tick (None: paused)."""
        return [(s, None if s.paused else a) for s, a in await self.store.list_schedules()]

    async def pause(self, name: str) -> None:
        sched, _ = await self._get(name)
        await self.store.put_schedule(msgspec.structs.replace(sched, paused=True))

    async def resume(self, name: str) -> float:
        sched, _ = await self._get(name)
        await self.store.put_schedule(msgspec.structs.replace(sched, paused=False))
        return await self._arm(name)

    async def delete(self, name: str) -> None:
        if not await self.store.delete_schedule(name):
            raise UnknownScheduleError(f"no schedule {name!r}")
        await self.backend.timers.drop_run(_PREFIX + name)

    async def fire(self, job: Job) -> list[str]:
        """Handle a tick job (idempotent); returns the ids of the runs it started."""
        name, tick = job.run_id.removeprefix(_PREFIX), job.deadline
        assert tick is not None
        kept = await self.store.get_schedule(name)
        if kept is None:
            return []  # deleted
        sched, armed = kept
        if armed is not None and tick < armed:
            return []  # a duplicate, or a timer from before a re-arm
        if sched.paused:
            return []
        now = self.backend.clock.now()
        if now + _EARLY < tick:  # fired early by another clock: wait for it
            await self.backend.timers.schedule(tick, job)
            return []
        ticks = cron.due(sched.cron, sched.timezone, tick, now)
        if sched.catch_up == "all":
            chosen = ticks
        elif sched.catch_up == "latest":
            chosen = ticks[-1:]
        else:  # skip: the newest tick only, if it is on time
            chosen = ticks[-1:] if now - ticks[-1] <= self.grace else []
        started = []
        for t in chosen:
            rid = cron.run_id(name, t)
            try:
                await self._start(sched, rid)
            except LegatoError as exc:
                if exc.retryable:
                    raise  # an outage: the tick job is handled again
                log.error("schedule %s: tick %s started nothing: %s", name, rid, exc)
                continue
            started.append(rid)
        nxt = cron.next_tick(sched.cron, sched.timezone, now)
        await self.backend.timers.schedule(nxt, tick_job(name, nxt))
        await self.store.arm_schedule(name, armed, nxt)
        return started

    async def _start(self, sched: Schedule, run_id: str) -> Any:
        version = sched.version or "1"
        return await self.control.start_registered(
            sched.blueprint, version, sched.input, run_id=run_id
        )
