"""In-process Coordinator, JobBus and Timers for the embedded backend."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from legato.runtime import joins, metrics
from legato.runtime.clock import SYSTEM_CLOCK, Cancellable, Clock
from legato.runtime.joins import CountDecision, JoinDecision, JoinMode, JoinState
from legato.runtime.ports import JobBus, LeaseGrant
from legato.runtime.tracing import carrier
from legato.schemas import Job, WorkerInfo


def _granted(token: int) -> LeaseGrant:
    return tuple.__new__(LeaseGrant, (token, 0.0, False))  # NamedTuple's __new__ is Python code


class MemoryCoordinator:
    """Join arrivals (``legato.runtime.joins``) and leases in dicts."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        # By run, so that forget_run drops a finished run's state at once.
        self._joins: dict[str, dict[str, JoinState]] = {}
        self._leases: dict[str, dict[str, tuple[str, float, int]]] = {}
        # A step's newest token. Dropped with its run: a counter made again starts from
        # the clock, above every token handed out before (see acquire_lease).
        self._fences: dict[str, dict[str, int]] = {}
        self._clock = clock
        self._now = clock.now
        self._epoch: str | None = uuid.uuid4().hex
        # When the data began (lease.lua's "born"): before any lease of this process,
        # until lose_data; then at the next lease operation.
        self._born: float | None = float("-inf")
        self._workers: dict[str, tuple[WorkerInfo, float]] = {}  # id -> (info, expires at)

    async def arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: JoinMode,
    ) -> JoinDecision:
        return joins.arrive(self._state(run_id, step_id), predecessor, taken, expected, mode)

    async def arrive_count(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        count: int,
    ) -> CountDecision:
        state = self._state(run_id, step_id)
        return joins.arrive_count(state, predecessor, taken, expected, count)

    def _state(self, run_id: str, step_id: str) -> JoinState:
        run = self._joins.setdefault(run_id, {})
        state = run.get(step_id)
        if state is None:
            state = run[step_id] = JoinState()
        return state

    async def acquire_lease(
        self, run_id: str, step_id: str, owner: str, ttl: float, *, unclaimed: bool = False
    ) -> LeaseGrant:
        now = self._now()
        leases = self._leases.setdefault(run_id, {})
        held = leases.get(step_id)
        if held is not None and held[1] > now and held[0] != owner:
            return LeaseGrant(None, held[1] - now)
        fences = self._fences.get(run_id)
        if fences is None:
            fences = self._fences[run_id] = {}
        last = fences.get(step_id)
        if last is None and not unclaimed:  # as lease.lua: the grace after a loss
            born = self._born
            if born is None:
                born = self._born = now
            if now - born < ttl:
                return LeaseGrant(None, ttl - (now - born), True)
        # As lease.lua: a new counter starts from the clock, above any token before it.
        token = (int(now * 1000) * 1024 if last is None else last) + 1
        fences[step_id] = token
        leases[step_id] = (owner, now + ttl, token)
        return _granted(token)

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        fences = self._fences.setdefault(run_id, {})
        if step_id not in fences:  # the state was lost and nobody took the step since
            if self._born is None:
                self._born = self._now()
            fences[step_id] = token
        if fences[step_id] != token:
            return False  # another owner took the lease since
        leases = self._leases.setdefault(run_id, {})
        held = leases.get(step_id)
        leases[step_id] = (held[0] if held else "", self._now() + ttl, token)
        return True

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None:
        leases = self._leases.get(run_id, {})
        held = leases.get(step_id)
        if held is not None and held[2] == token:
            del leases[step_id]

    async def lease_held(self, run_id: str, step_id: str) -> bool:
        held = self._leases.get(run_id, {}).get(step_id)
        return held is not None and held[1] > self._now()

    async def forget_run(self, run_id: str) -> None:
        self._joins.pop(run_id, None)
        self._leases.pop(run_id, None)
        self._fences.pop(run_id, None)

    async def epoch(self) -> tuple[str, bool]:
        if self._epoch is None:
            self._epoch = uuid.uuid4().hex
            return self._epoch, True
        return self._epoch, False

    async def heartbeat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        self._workers[worker.worker_id] = (worker, self._now() + ttl)

    async def drop_worker(self, worker_id: str) -> None:
        self._workers.pop(worker_id, None)

    async def live_workers(self) -> list[WorkerInfo]:
        now = self._now()
        for wid in [w for w, (_, expires) in self._workers.items() if expires <= now]:
            del self._workers[wid]
        return [info for _, (info, _) in sorted(self._workers.items())]

    def lose_data(self) -> None:
        """Forget everything, as Redis does on a flush (for tests of that case)."""
        self._joins.clear()
        self._leases.clear()
        self._fences.clear()
        self._workers.clear()
        self._epoch = None
        self._born = None

    def join_count(self) -> int:
        return sum(len(j) for j in self._joins.values())

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class MemoryDelivery:
    job: Job
    headers: Mapping[str, str] | None = None
    published_at: float | None = None

    async def ack(self) -> None:
        return None


class MemoryJobBus:
    """An asyncio queue. Several consumers may read it at once."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._queue: asyncio.Queue[MemoryDelivery | None] = asyncio.Queue()
        self._closed = False
        self._running = asyncio.Event()
        self._running.set()
        self.published = 0

    async def publish(self, jobs: Sequence[Job]) -> None:
        self.publish_nowait(jobs)

    def publish_nowait(self, jobs: Sequence[Job]) -> None:
        put = self._queue.put_nowait
        headers = carrier()
        now = self._clock.now()
        for job in jobs:
            put(MemoryDelivery(job, headers, now))
        self.published += len(jobs)

    async def consume(self) -> AsyncIterator[MemoryDelivery]:
        get = self._queue.get
        while not self._closed:
            if not self._running.is_set():
                await self._running.wait()
                continue
            delivery = await get()
            if delivery is None:
                self._queue.put_nowait(None)  # wake the next consumer too
                return
            yield delivery

    def pause(self) -> None:
        self._running.clear()

    def take(self) -> list[MemoryDelivery]:
        """Remove and return every delivery waiting (for tests that drive jobs by hand)."""
        out = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                out.append(item)
        return out

    def pending(self) -> int:
        return self._queue.qsize()

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        self._closed = True
        self._running.set()
        self._queue.put_nowait(None)


class MemoryTimers:
    """Delays on the backend's clock; publishes the job when due."""

    poll_interval: float | None = None  # they fire by themselves

    def __init__(self, bus: MemoryJobBus, clock: Clock = SYSTEM_CLOCK) -> None:
        self._bus = bus
        self._clock = clock
        self._handles: dict[Cancellable, str] = {}  # pending timer -> run id
        self.fired = 0

    async def schedule(self, at: float, job: Job) -> None:
        handle: Cancellable

        def fire() -> None:
            self._handles.pop(handle, None)
            self.fired += 1
            metrics.timers_fired(1)
            self._bus.publish_nowait([job])

        handle = self._clock.call_at(at, fire)
        self._handles[handle] = job.run_id

    async def drop_run(self, run_id: str) -> int:
        dropped = [h for h, rid in self._handles.items() if rid == run_id]
        for h in dropped:
            h.cancel()
            del self._handles[h]
        return len(dropped)

    async def fire_due(self, bus: JobBus, now: float) -> int:
        return 0  # nothing to poll: each timer fires on its own

    def pending(self) -> int:
        return len(self._handles)

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()
