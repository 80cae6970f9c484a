"""The one place a run ends, whatever its status.

Completed (its end join fired), failed (a step gave up, or the history says
so), cancelled (an operator): each goes through ``RunEnding.end``, which moves
the run to its terminal status once (the store's conditional write decides
which ending wins) and then, only for the ending that won, drops the run's
coordination state and its pending timers, and tells this process's in-flight
steps of the run to stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from legato.runtime import metrics
from legato.runtime.errors import LegatoError
from legato.runtime.ports import Coordinator, RunStore, Timers
from legato.schemas import Event, RunCancelled, RunCompleted, RunFailed

log = logging.getLogger("legato.ending")


class RunEnding:
    """Ends runs on one backend; ``on_end(run_id)`` is called for every run it ended
    (a worker cancels its in-flight steps of the run)."""

    def __init__(
        self,
        store: RunStore,
        coordinator: Coordinator,
        timers: Timers,
        now: Callable[[], float],
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.timers = timers
        self.now = now
        self.listeners: list[Callable[[str], object]] = []

    async def end(
        self,
        run_id: str,
        status: str,
        event: Event,
        error: str | None,
        fence: tuple[str, int] | None = None,
    ) -> bool:
        """Move the run to ``status``; False if it had ended already. The cleanup is
        idempotent, so an ending retried after a crash completes it."""
        ended = await self.store.finish_run(run_id, status, event, error, fence)
        if ended:
            await self.cleanup(run_id)
            await self._count(run_id, status, event.at)
        return ended

    async def _count(self, run_id: str, status: str, at: float) -> None:
        """The run's end in the metrics: one header read per run, after the cleanup
        (a read that fails loses a data point, never the cleanup)."""
        try:
            header = await self.store.get_run(run_id)
        except LegatoError as exc:
            log.debug("run %s ended: no metrics (%s)", run_id, exc)
            return
        if header is not None:
            metrics.run_ended(header.blueprint_id, status, at - header.created_at)

    async def cleanup(self, run_id: str) -> None:
        """Drop an ended run's coordination state and timers; stop its local steps."""
        await self.coordinator.forget_run(run_id)
        dropped = await self.timers.drop_run(run_id)
        if dropped:
            log.debug("run %s ended: %d pending timers dropped", run_id, dropped)
        for listener in self.listeners:
            listener(run_id)

    async def complete(self, run_id: str) -> bool:
        return await self.end(run_id, "completed", RunCompleted(at=self.now()), None)

    async def fail(
        self, run_id: str, error: str, step_id: str | None, fence: tuple[str, int] | None = None
    ) -> bool:
        event = RunFailed(at=self.now(), error=error, step_id=step_id)
        return await self.end(run_id, "failed", event, error, fence)

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        event = RunCancelled(at=self.now(), reason=reason)
        return await self.end(run_id, "cancelled", event, reason or None)
