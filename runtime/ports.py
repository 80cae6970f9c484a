"""The ports: everything the runtime needs from the outside world, and nothing more.

Small async protocols. ``legato.adapters.memory`` implements each in process
(the embedded backend); the Kafka, Cassandra and Redis adapters implement the
same protocols, and ``legato.testing.contract`` holds one suite per port that
every implementation passes unchanged (a third-party adapter can run it too).

Every capability the engine uses is declared here: the engine never probes an
adapter with ``hasattr`` and never reads another module's private attributes.

Fencing contract (every backend): a worker that takes a step's lease gets a
fencing token, strictly greater than every token handed out before for that
step, even after the coordinator lost its data. Before it runs the step it
records the token with ``RunStore.claim_step`` (or ``read_step(claim=token)``,
which claims and reads in one call). ``resolve_step``,
``record_failure`` and ``finish_run`` called with a ``fence`` raise
``FencingError`` and write nothing if a newer token was claimed for the step
since: a worker that lost its lease cannot record anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from legato.runtime.clock import SYSTEM_CLOCK, Clock
from legato.runtime.joins import CountDecision, JoinDecision, JoinMode
from legato.runtime.runindex import RunPage as RunPage  # the listing's types, re-exported
from legato.runtime.runindex import RunQuery as RunQuery
from legato.runtime.runindex import RunSummary as RunSummary
from legato.schemas import (
    Blueprint,
    ContextWrite,
    Event,
    Job,
    RunHeader,
    RunRetried,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
    WorkerInfo,
)
from legato.schemas.schedules import Schedule


class Resource(Protocol):
    """Something a backend holds open: it answers a health probe and is closed once."""

    async def probe(self) -> str | None:
        """None when the server answers now, else what is wrong."""

    async def close(self) -> None: ...


class Delivery(Protocol):
    """A consumed job. ``ack`` once the job's effects are recorded; until then
    the bus may deliver it again (after a crash or rebalance)."""

    @property
    def job(self) -> Job: ...

    @property
    def headers(self) -> Mapping[str, str] | None:
        """Transport headers (W3C trace context), if the bus carries any."""

    @property
    def published_at(self) -> float | None:
        """Unix time the bus accepted the job (None: it does not know); the worker
        reports the wait from then to the start of its handling."""

    async def ack(self) -> None: ...


class JobBus(Resource, Protocol):
    """Jobs in flight. Delivery is at least once: consumers must be idempotent."""

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Durably enqueue jobs (returns when the bus has accepted them)."""

    def consume(self) -> AsyncIterator[Delivery]:
        """Yield deliveries until ``close`` is called."""

    def pause(self) -> None:
        """Stop taking new jobs (draining); acknowledgements still count."""


@dataclass(frozen=True, slots=True)
class StepView:
    """What a step's first read returns: enough to decide whether and how to run it."""

    header: RunHeader | None  # None: no such run
    record: StepRecord | None  # the step's resolution, if resolved
    inputs: dict[str, StepRecord]  # resolved input steps by step id
    failure: StepFailed | None  # the step's last failed attempt, if any
    claimed: bool = False  # some lease holder claimed the step before this read


@dataclass(frozen=True, slots=True)
class ActivePage:
    """A page of running runs; ``after`` continues the listing (None: that was all)."""

    headers: list[RunHeader]
    after: str | None = None


class RunStore(Resource, Protocol):
    """A run's history: one partition per run, append-only events, plus direct
    lookups of step records and context writes so a step reads only what it needs."""

    async def create_run(self, header: RunHeader, event: RunStarted) -> bool:
        """Create a run. False (and no change) if ``run_id`` exists already."""

    async def get_run(self, run_id: str) -> RunHeader | None: ...

    async def read_step(
        self, run_id: str, step_id: str, inputs: Sequence[str], *, claim: int | None = None
    ) -> StepView:
        """A step's first read, in one query where the store can: the run's header,
        the step's record and last failed attempt, and its input steps' records.

        With ``claim``, the step is also claimed for that token as ``claim_step``
        does, before this returns (concurrently with the read where the store can:
        the claim does not depend on what is read). For a run that does not exist
        the claim may still be written; nothing ever reads it."""

    async def get_steps(self, run_id: str, step_ids: Sequence[str]) -> dict[str, StepRecord]:
        """Records of the given steps that are resolved; unresolved ones are absent."""

    async def get_context(self, run_id: str, keys: Sequence[str]) -> dict[str, list[ContextWrite]]:
        """Every write of each key (a key never written is absent)."""

    async def claim_step(self, run_id: str, step_id: str, fence: int) -> None:
        """Record that the holder of lease token ``fence`` runs the step now; later
        writes fenced with an older token are refused (see the module docstring)."""

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
        consume: tuple[str, str] | None = None,
    ) -> StepRecord:
        """Atomically record a step's resolution with its event and context writes.

        The first resolution wins: if the step is already resolved, nothing is
        written and the existing record is returned. A stale ``fence`` raises
        ``FencingError``. ``consume`` is the ``(name, id)`` of the signal this
        resolution consumes, in the same write (and the step stops waiting for
        ``name``); if another step consumed it, ``SignalTakenError``, nothing written.
        """

    async def record_failure(
        self, run_id: str, event: StepFailed, fence: int | None = None
    ) -> None:
        """Append a failed attempt (the step stays unresolved); ``read_step`` returns
        it as the step's ``failure``. A stale ``fence`` raises ``FencingError``."""

    async def put_items(self, run_id: str, step_id: str, start: int, items: Sequence[Any]) -> None:
        """Keep a foreach step's items by position, from ``start`` on (idempotent: a
        position written again gets the same value). The last position is written
        after every other, so once it is kept, all of them are."""

    async def get_items(self, run_id: str, step_id: str, start: int, stop: int) -> list[Any]:
        """The step's items at positions ``start`` to ``stop - 1`` that were kept, in
        order (a step reads its own item, never the whole list)."""

    async def append_event(self, run_id: str, event: Event) -> None:
        """Append an event that resolves nothing and is no progress (a step waiting)."""

    async def put_signal(
        self, run_id: str, name: str, data: Any, event: SignalReceived, dedupe: str | None = None
    ) -> str | None:
        """Append a signal to the queue of its name, with its ``SignalReceived`` event
        (stamped with the signal's id). Returns the id (ids sort in arrival order);
        None, and nothing written, if a signal with the same ``dedupe`` key was kept."""

    async def next_signal(self, run_id: str, name: str) -> tuple[str, Any] | None:
        """The oldest signal of this name that no step has consumed: ``(id, data)``."""

    async def add_waiter(self, run_id: str, name: str, job: Job) -> None:
        """Remember that ``job``'s step waits for signal ``name`` (idempotent per step)."""

    async def get_waiters(self, run_id: str, name: str) -> list[Job]:
        """Jobs of the steps waiting for signal ``name``."""

    async def add_event_waiter(self, name: str, key: str, job: Job) -> None:
        """Remember, across runs, that ``job``'s step waits for events of ``name`` and
        ``key`` (idempotent per step)."""

    async def remove_event_waiter(self, name: str, key: str, run_id: str, step_id: str) -> None: ...

    async def event_waiters(self, name: str, key: str) -> list[Job]:
        """Jobs of the steps waiting for events of ``name`` and ``key``."""

    async def retain_event(
        self, name: str, key: str, event_id: str, data: Any, until: float
    ) -> None:
        """Keep an event until ``until`` for steps that start waiting for it."""

    async def retained_events(self, name: str, key: str, now: float) -> list[tuple[str, Any]]:
        """``(id, data)`` of the events of ``name`` and ``key`` retained past ``now``,
        oldest first."""

    async def finish_run(
        self,
        run_id: str,
        status: str,
        event: Event,
        error: str | None,
        fence: tuple[str, int] | None = None,
    ) -> bool:
        """Move a running (or paused) run to a terminal status. False if it was
        neither. ``fence`` is ``(step_id, token)`` when a step's holder ends the run."""

    async def set_status(self, run_id: str, expected: str, status: str, event: Event) -> bool:
        """Move the run from ``expected`` to ``status`` (``running`` <-> ``paused``)
        with ``event``, atomically; False, and nothing written, if it was not
        ``expected``."""

    async def reopen_run(
        self,
        run_id: str,
        expected: str,
        event: RunRetried,
        context: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Move an ended run from ``expected`` back to ``running`` (and into the
        index of active runs), forgetting the records and failed attempts of the
        steps in ``event.reset`` and the context writes ``(key, step id)`` they made,
        with ``event``, atomically. False, nothing written, if it was not ``expected``."""

    async def hold_job(self, run_id: str, job: Job) -> None:
        """Keep a job of a paused run until it is resumed (idempotent per job)."""

    async def held_jobs(self, run_id: str) -> list[Job]:
        """The jobs kept by ``hold_job``."""

    async def drop_held(self, run_id: str, jobs: Sequence[Job]) -> None:
        """Forget held jobs (once they were published again)."""

    async def history(self, run_id: str) -> list[Event]:
        """Every event of the run, in append order (``RunNotFoundError`` if none)."""

    async def all_steps(self, run_id: str) -> dict[str, StepRecord]:
        """Every step record of the run. Never read by a step; the contract suite holds
        ``fold(history)`` to it, and reports may use it."""

    async def list_active(self, limit: int = 1000, after: str | None = None) -> ActivePage:
        """Running runs, a page at a time, through an index of active runs (its cost
        grows with the number of active runs, never with all runs ever).
        ``updated_at`` is the time of the run's last recorded progress."""

    async def list_runs(self, query: RunQuery) -> RunPage:
        """Runs, running or finished, newest first (by start time), filtered by
        blueprint, status and start-time window, a page at a time, through index
        tables: one read per index partition, never a scan of runs. A run keeps its
        place when it ends, so paging lists no run twice (``legato.runtime.runindex``).
        Finished runs leave the index when their history expires (the retention)."""

    async def park(self, run_id: str, progress_at: float, until: float | None) -> None:
        """Note that resuming the run at progress ``progress_at`` found nothing to do
        before ``until`` (None: until its next progress); the header's ``parked_at``
        and ``parked_until`` carry it, so the reconciler can pass over it cheaply."""

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> RunHeader:
        """Wait until the run is in a terminal status; raises ``TimeoutError``."""


@dataclass(frozen=True, slots=True)
class BlueprintInfo:
    """A registered blueprint version: whether new runs may start it, and since when
    it is registered (unix seconds)."""

    id: str
    version: str
    active: bool
    registered_at: float


class BlueprintStore(Resource, Protocol):
    """Registered blueprints by id and version; a run pins the version it started with."""

    async def put_blueprint(self, blueprint: Blueprint) -> None:
        """Register a version (active); a version registered before is left as it is."""

    async def get_blueprint(self, blueprint_id: str, version: str) -> Blueprint | None: ...

    async def put_schedule(self, schedule: Schedule) -> None:
        """Add or replace a schedule (its armed tick is kept)."""

    async def get_schedule(self, name: str) -> tuple[Schedule, float | None] | None:
        """A schedule and the tick its timer is armed for (None: not armed)."""

    async def list_schedules(self) -> list[tuple[Schedule, float | None]]:
        """Every schedule with its armed tick, by name."""

    async def delete_schedule(self, name: str) -> bool:
        """False if there was no such schedule."""

    async def arm_schedule(self, name: str, expected: float | None, tick: float) -> bool:
        """Move the schedule's armed tick from ``expected`` to ``tick``, atomically;
        False (nothing written) if it was not ``expected`` or the schedule is gone."""

    async def list_blueprints(self, blueprint_id: str | None = None) -> list[BlueprintInfo]:
        """Every registered version (of ``blueprint_id`` only, if given), by id, then
        version in natural order (``2`` before ``10``); one index read, no scan."""

    async def set_blueprint_active(self, blueprint_id: str, version: str, active: bool) -> bool:
        """Let new runs start the version (True) or refuse them (False); runs started
        before go on either way. False if the version is not registered."""


class LeaseGrant(NamedTuple):
    """The outcome of taking a lease: a fencing ``token``, or None and how long the
    current holder's lease still runs (``held_for`` seconds).

    ``grace``: the step has no state in the coordinator, whose data is younger than
    one lease (it was lost, or is new): a worker that ran the step before the loss
    may still hold it and re-establish its lease at its next renewal, within the
    ``held_for`` seconds left of the grace. The caller takes the step now only if
    its history shows it was never claimed (``acquire_lease(unclaimed=True)``).
    """

    token: int | None
    held_for: float = 0.0
    grace: bool = False


class Coordinator(Resource, Protocol):
    """Cheap, rebuildable coordination: join arrivals and step leases."""

    async def arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: JoinMode,
    ) -> JoinDecision:
        """Record that ``predecessor`` arrived (taken or skipped) at ``step_id`` and
        decide by ``legato.runtime.joins.arrive`` (atomically, once per join)."""

    async def arrive_count(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        count: int,
    ) -> CountDecision:
        """An arrival at a ``count`` join (``join: {count: N}``), decided by
        ``legato.runtime.joins.arrive_count``: with the ``N`` joined predecessors
        when it fires (the same ones again for a repeat of the deciding arrival)."""

    async def acquire_lease(
        self, run_id: str, step_id: str, owner: str, ttl: float, *, unclaimed: bool = False
    ) -> LeaseGrant:
        """Take the step's lease for ``ttl`` seconds, unless another owner holds it.

        A step the coordinator knows nothing of while its data is younger than
        ``ttl`` is not taken (a ``grace`` grant), unless ``unclaimed``: the caller
        read that no worker ever claimed the step."""

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        """Extend the lease if ``token`` is still the step's newest. If the
        coordinator lost the step's state (a restart, a flush) and nobody took the
        step since, the lease is re-established with ``token``. False: lost."""

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None: ...

    async def lease_held(self, run_id: str, step_id: str) -> bool:
        """Whether some worker holds the step's lease now (it runs the step and
        heartbeats): the reconciler leaves such a step alone."""

    async def forget_run(self, run_id: str) -> None:
        """Drop a finished run's coordination state."""

    async def epoch(self) -> tuple[str, bool]:
        """An id of the coordinator's data, which changes when the data was lost (a
        restart without persistence, a flush), and whether this call started the new
        one: exactly one caller gets True per epoch (it repairs what was lost)."""

    async def heartbeat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        """Announce a live worker, or refresh it: it is listed for ``ttl`` seconds
        after its last heartbeat (a worker that dies drops out by itself)."""

    async def drop_worker(self, worker_id: str) -> None:
        """A worker that stops says so: it is no longer listed."""

    async def live_workers(self) -> list[WorkerInfo]:
        """The workers whose last heartbeat is younger than its ``ttl``, by id."""


class Timers(Resource, Protocol):
    """Durable delays: publish ``job`` at unix time ``at`` (no worker sleeps on it).

    A timer may fire more than once (two pollers, a crash after publishing):
    the jobs it publishes must be, and are, idempotent.
    """

    poll_interval: float | None
    """Seconds between two ``fire_due`` calls a worker makes; None: timers fire by
    themselves (the embedded timers)."""

    async def schedule(self, at: float, job: Job) -> None: ...

    async def drop_run(self, run_id: str) -> int:
        """Drop the run's timers that have not fired (the run ended); returns how
        many were dropped."""

    async def fire_due(self, bus: JobBus, now: float) -> int:
        """Publish the jobs due by ``now`` to ``bus``; returns how many."""


@dataclass(frozen=True)
class Backend:
    """One implementation of every port, the clock they share, and the connections
    they are built on (``resources``: probed and closed after the ports)."""

    store: RunStore
    blueprints: BlueprintStore
    coordinator: Coordinator
    bus: JobBus
    timers: Timers
    clock: Clock = SYSTEM_CLOCK
    resources: tuple[Resource, ...] = field(default=())

    def _parts(self) -> dict[str, Resource]:
        parts: dict[str, Resource] = {}
        named: Sequence[tuple[str, Resource]] = (
            ("bus", self.bus),
            ("store", self.store),
            ("blueprints", self.blueprints),
            ("coordinator", self.coordinator),
            ("timers", self.timers),
            *((f"resource{i}", r) for i, r in enumerate(self.resources)),
        )
        seen: set[int] = set()
        for name, part in named:
            if id(part) not in seen:  # a store is often the blueprint store too
                seen.add(id(part))
                parts[name] = part
        return parts

    async def probe(self) -> dict[str, str]:
        """``{part: problem}`` for each part whose server does not answer now."""
        problems = {}
        for name, part in self._parts().items():
            problem = await part.probe()
            if problem is not None:
                problems[name] = problem
        return problems

    async def close(self) -> None:
        """Close every part once: the ports first, then the connections under them."""
        for part in self._parts().values():
            await part.close()
