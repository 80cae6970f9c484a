"""In-flight steps of this process: heartbeats and cancellation.

One sweeper task per process wakes every ``interval`` seconds; each step that
has run longer than ``interval`` gets a heartbeat: its lease is renewed (so no
other worker runs it meanwhile) and its run's status is read. If the run is no
longer running, or the lease was lost to another worker, the step is
cancelled: ``ctx.cancelled`` is set and the coroutine running the node gets
``CancelledError``. A short step costs a set insertion and removal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from legato.runtime.context import StepContext
from legato.runtime.ports import Coordinator, RunStore

log = logging.getLogger("legato.guard")


class StepCancelled(Exception):
    """The step was cancelled because its run ended or its lease was lost."""


class _Guard:
    __slots__ = ("active", "beating", "cancelled", "ctx", "started", "task", "token")

    def __init__(self, task: asyncio.Task[Any], ctx: StepContext, token: int | None) -> None:
        self.task = task
        self.ctx = ctx
        self.token = token
        self.started = time.monotonic()
        self.active = True
        self.cancelled = False
        self.beating = False

    def cancel(self) -> None:
        if self.active and not self.cancelled:
            self.cancelled = True
            self.ctx.cancelled = True
            self.task.cancel()


class Guards:
    """Tracks this process's in-flight steps."""

    def __init__(
        self, store: RunStore, coordinator: Coordinator, *, interval: float, lease_ttl: float
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.interval = interval
        self.lease_ttl = lease_ttl
        self._guards: set[_Guard] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def run(self, call: Awaitable[Any], ctx: StepContext, token: int | None) -> Any:
        """Await ``call`` (the node) under a guard; raises ``StepCancelled`` if cancelled."""
        task = asyncio.current_task()
        assert task is not None
        guard = _Guard(task, ctx, token)
        self._guards.add(guard)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        try:
            return await call
        except asyncio.CancelledError:
            if guard.cancelled and task.uncancel() == 0:
                raise StepCancelled(f"step {ctx.step_id} of run {ctx.run_id} cancelled") from None
            raise
        finally:
            guard.active = False
            self._guards.discard(guard)

    def cancel_run(self, run_id: str) -> int:
        """Cancel this process's running steps of ``run_id`` now; returns how many."""
        guards = [g for g in self._guards if g.ctx.run_id == run_id]
        for g in guards:
            g.cancel()
        return len(guards)

    def in_flight(self) -> int:
        return len(self._guards)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def _sweep(self) -> None:
        while self._guards:
            await asyncio.sleep(self.interval)
            due = time.monotonic() - self.interval
            beats = [g for g in self._guards if g.started <= due and not g.beating]
            if beats:
                await asyncio.gather(*(self._heartbeat(g) for g in beats))

    async def _heartbeat(self, guard: _Guard) -> None:
        ctx = guard.ctx
        guard.beating = True
        try:
            held = guard.token is None or await self.coordinator.renew_lease(
                ctx.run_id, ctx.step_id, guard.token, self.lease_ttl
            )
            header = await self.store.get_run(ctx.run_id)
            if not held or header is None or header.status != "running":
                guard.cancel()
        except Exception as exc:  # a lost server must not kill the step; try again later
            log.warning("heartbeat of %s/%s failed: %s", ctx.run_id, ctx.step_id, exc)
        finally:
            guard.beating = False
