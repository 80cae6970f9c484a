"""In-process Coordinator, JobBus and Timers for the embedded backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from legato.runtime import metrics
from legato.runtime.ports import JoinDecision
from legato.runtime.tracing import carrier
from legato.schemas import Job


@dataclass
class _Join:
    arrived: dict[str, bool] = field(default_factory=dict)
    taken: int = 0
    decided_by: str | None = None
    decision: JoinDecision = JoinDecision.WAIT


class MemoryCoordinator:
    """Join arrivals and leases in dicts (the same rules as the Redis Lua script)."""

    def __init__(
        self,
        *,
        fences: dict[tuple[str, str], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # By run, so that forget_run drops a finished run's state at once.
        self._joins: dict[str, dict[str, _Join]] = {}
        self._leases: dict[str, dict[str, tuple[str, float, int]]] = {}
        self.fences = fences if fences is not None else {}
        self._clock = clock

    async def arrive(
        self, run_id: str, step_id: str, predecessor: str, taken: bool, expected: int, mode: str
    ) -> JoinDecision:
        joins = self._joins.setdefault(run_id, {})
        join = joins.get(step_id)
        if join is None:
            join = joins[step_id] = _Join()
        if predecessor not in join.arrived:
            join.arrived[predecessor] = taken
            if taken:
                join.taken += 1
        elif join.decided_by == predecessor:
            return join.decision  # a repeated deciding arrival re-drives the successor
        if join.decided_by is not None:
            return JoinDecision.WAIT
        decision = JoinDecision.WAIT
        if mode == "any" and taken:
            decision = JoinDecision.RUN
        elif len(join.arrived) >= expected:
            decision = JoinDecision.RUN if join.taken and mode == "all" else JoinDecision.SKIP
        if decision is not JoinDecision.WAIT:
            join.decided_by, join.decision = predecessor, decision
        return decision

    async def acquire_lease(self, run_id: str, step_id: str, owner: str, ttl: float) -> int | None:
        key = (run_id, step_id)
        now = self._clock()
        leases = self._leases.setdefault(run_id, {})
        held = leases.get(step_id)
        if held is not None and held[1] > now and held[0] != owner:
            return None
        token = self.fences.get(key, 0) + 1
        self.fences[key] = token
        leases[step_id] = (owner, now + ttl, token)
        return token

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        key = (run_id, step_id)
        if self.fences.get(key) != token:
            return False  # another owner took the lease since
        leases = self._leases.setdefault(run_id, {})
        held = leases.get(step_id)
        leases[step_id] = (held[0] if held else "", self._clock() + ttl, token)
        return True

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None:
        leases = self._leases.get(run_id, {})
        held = leases.get(step_id)
        if held is not None and held[2] == token:
            del leases[step_id]

    async def lease_held(self, run_id: str, step_id: str) -> bool:
        held = self._leases.get(run_id, {}).get(step_id)
        return held is not None and held[1] > self._clock()

    async def forget_run(self, run_id: str) -> None:
        self._joins.pop(run_id, None)
        self._leases.pop(run_id, None)

    def join_count(self) -> int:
        return sum(len(j) for j in self._joins.values())


@dataclass(frozen=True, slots=True)
class MemoryDelivery:
    job: Job
    headers: dict[str, str] | None = None

    async def ack(self) -> None:
        return None


class MemoryJobBus:
    """An asyncio queue. Several consumers may read it at once."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Job | MemoryDelivery | None] = asyncio.Queue()
        self._closed = False
        self.published = 0

    async def publish(self, jobs: Sequence[Job]) -> None:
        put = self._queue.put_nowait
        headers = carrier()
        if headers is None:
            for job in jobs:
                put(job)
        else:
            for job in jobs:
                put(MemoryDelivery(job, headers))
        self.published += len(jobs)

    async def consume(self) -> AsyncIterator[MemoryDelivery]:
        get = self._queue.get
        while not self._closed:
            job = await get()
            if job is None:
                self._queue.put_nowait(None)  # wake the next consumer too
                return
            yield job if isinstance(job, MemoryDelivery) else MemoryDelivery(job)

    async def close(self) -> None:
        self._closed = True
        self._queue.put_nowait(None)

    def pending(self) -> int:
        return self._queue.qsize()


class MemoryTimers:
    """Delays with the event loop's timer; publishes the job when due."""

    def __init__(self, bus: MemoryJobBus) -> None:
        self._bus = bus
        self._handles: dict[asyncio.TimerHandle, str] = {}  # pending timer -> run id

    async def schedule(self, at: float, job: Job) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, at - time.time())
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.pop(handle, None)
            metrics.timers_fired(1)
            self._bus._queue.put_nowait(job)

        handle = loop.call_later(delay, fire)
        self._handles[handle] = job.run_id

    async def drop_run(self, run_id: str) -> int:
        dropped = [h for h, rid in self._handles.items() if rid == run_id]
        for h in dropped:
            h.cancel()
            del self._handles[h]
        return len(dropped)

    def cancel_all(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()
