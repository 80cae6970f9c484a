"""The ports: what the runtime needs from the outside world.

Small async protocols. ``legato.adapters.memory`` implements each in process
(the embedded backend); the Kafka, Cassandra and Redis adapters implement the
same protocols, and ``tests/contract`` holds one suite per port that every
implementation passes unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol

from legato.schemas import (
    Blueprint,
    ContextWrite,
    Event,
    Job,
    RunHeader,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)

TerminalEvent = Event  # RunCompleted | RunFailed | RunCancelled; checked by the store


class Delivery(Protocol):
    """A consumed job. ``ack`` once the job's effects are recorded; until then
    the bus may deliver it again (after a crash or rebalance)."""

    @property
    def job(self) -> Job: ...

    async def ack(self) -> None: ...


class JobBus(Protocol):
    """Jobs in flight. Delivery is at least once: consumers must be idempotent."""

    async def publish(self, jobs: Sequence[Job]) -> None:
        """Durably enqueue jobs (returns when the bus has accepted them)."""

    def consume(self) -> AsyncIterator[Delivery]:
        """Yield deliveries until ``close`` is called."""

    async def close(self) -> None: ...


class RunStore(Protocol):
    """A run's history: one partition per run, append-only events, plus direct
    lookups of step records and context writes so a step reads only what it needs."""

    async def create_run(self, header: RunHeader, event: RunStarted) -> bool:
        """Create a run. False (and no change) if ``run_id`` exists already."""

    async def get_run(self, run_id: str) -> RunHeader | None: ...

    async def get_steps(self, run_id: str, step_ids: Sequence[str]) -> dict[str, StepRecord]:
        """Records of the given steps that are resolved; unresolved ones are absent."""

    async def get_run_steps(
        self, run_id: str, step_ids: Sequence[str]
    ) -> tuple[RunHeader | None, dict[str, StepRecord]]:
        """``get_run`` and ``get_steps`` in one read where the store can (a step's
        first read: is the run running, is the step resolved, its inputs)."""

    async def get_context(self, run_id: str, keys: Sequence[str]) -> dict[str, list[ContextWrite]]:
        """Every write of each key (a key never written is absent)."""

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
    ) -> StepRecord:
        """Atomically record a step's resolution with its event and context writes.

        The first resolution wins: if the step is already resolved, nothing is
        written and the existing record is returned. A stale ``fence`` raises
        ``FencingError``.
        """

    async def record_failure(self, run_id: str, event: StepFailed) -> None:
        """Append a failed attempt (the step stays unresolved)."""

    async def append_event(self, run_id: str, event: Event) -> None:
        """Append an event that resolves nothing (a step waiting, a timer set)."""

    async def put_signal(self, run_id: str, name: str, data: Any, event: Event) -> bool:
        """Keep a signal (with its ``SignalReceived`` event). The first signal of a
        name wins: False, and nothing written, if one was kept already."""

    async def get_signal(self, run_id: str, name: str) -> tuple[bool, Any]:
        """``(True, data)`` if a signal of this name was kept, else ``(False, None)``."""

    async def add_waiter(self, run_id: str, name: str, job: Job) -> None:
        """Remember that ``job``'s step waits for signal ``name`` (idempotent per step)."""

    async def get_waiters(self, run_id: str, name: str) -> list[Job]:
        """Jobs of the steps waiting for signal ``name``."""

    async def finish_run(self, run_id: str, status: str, event: Event, error: str | None) -> bool:
        """Move a running run to a terminal status. False if it was not running."""

    async def history(self, run_id: str) -> list[Event]:
        """Every event of the run, in append order."""

    async def all_steps(self, run_id: str) -> dict[str, StepRecord]:
        """Every resolved step of the run (for final reports, not for steps)."""

    async def all_context(self, run_id: str) -> dict[str, list[ContextWrite]]:
        """Every context write of the run (for final reports, not for steps)."""

    async def list_active(self, limit: int = 10_000) -> list[RunHeader]:
        """Headers of running runs, found through an index of active runs (its cost
        grows with the number of active runs, never with all runs ever).
        ``updated_at`` is the time of the run's last recorded progress."""

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> RunHeader:
        """Wait until the run is in a terminal status; raises ``TimeoutError``."""


class BlueprintStore(Protocol):
    """Registered blueprints by id and version; a run pins the version it started with."""

    async def put_blueprint(self, blueprint: Blueprint) -> None: ...

    async def get_blueprint(self, blueprint_id: str, version: str) -> Blueprint | None: ...


class JoinDecision(enum.Enum):
    """What one arrival at a step decided."""

    WAIT = "wait"  # not decided yet, or decided by an arrival from another predecessor
    RUN = "run"  # this predecessor's arrival fired the step: enqueue it
    SKIP = "skip"  # every arrival was a skip: the step is skipped


class Coordinator(Protocol):
    """Cheap, rebuildable coordination: join arrivals and step leases."""

    async def arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: Literal["all", "any"],
    ) -> JoinDecision:
        """Record that ``predecessor`` arrived (taken or skipped) at ``step_id``.

        Counts distinct predecessors, never arrivals. The step is decided once:
        ``all`` when ``expected`` predecessors arrived (RUN if any was taken);
        ``any`` at the first taken arrival, or SKIP when all arrived skipped.
        The arrival that decided gets the decision again if it is repeated (so
        a redelivered job re-drives its successor); every other arrival gets WAIT.
        """

    async def acquire_lease(self, run_id: str, step_id: str, owner: str, ttl: float) -> int | None:
        """Take the step's lease; returns a fencing token, or None if another owner holds it."""

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        """Extend the lease if ``token`` still holds it; False if it was lost."""

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None: ...

    async def lease_held(self, run_id: str, step_id: str) -> bool:
        """Whether some worker holds the step's lease now (it runs the step and
        heartbeats): the reconciler leaves such a step alone."""

    async def forget_run(self, run_id: str) -> None:
        """Drop a finished run's coordination state."""


class Timers(Protocol):
    """Durable delays: publish ``job`` at unix time ``at`` (no worker sleeps on it)."""

    async def schedule(self, at: float, job: Job) -> None: ...

    async def drop_run(self, run_id: str) -> int:
        """Drop the run's timers that have not fired (it was cancelled); returns
        how many were dropped."""


JoinMode = Literal["all", "any"]
