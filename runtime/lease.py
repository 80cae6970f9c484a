"""Step leases held by this process: acquire, heartbeat, self-fence, release.

A worker runs a step only while it holds the step's lease. ``Leases.acquire``
and ``Leases.finish`` bound the lease's scope: it takes the lease (or says who
holds it for how long, so the caller can hand the job over for a takeover
once that lease expires), keeps it alive while the step runs, and releases it
at the end unless the step was resolved (a resolved step's lease is left to
expire: whoever handles the step next reads its record, lease or not).

One sweeper task wakes every ``interval`` seconds and heartbeats each lease
held longer than that: it renews the lease and reads the run's status. The
holding is *lost* when the renewal says another worker took the step, or when
no renewal succeeded for ``0.8 * ttl`` (the coordinator is unreachable: others
may take the step once the lease expires, so this worker stops first). It is
*ended* when the run is no longer running. Either way the node's coroutine, if
it is running, is cancelled; the pipeline then records nothing and, for a
lost lease, hands the job back (``LeaseLostError`` is retryable).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from legato.runtime.clock import Clock
from legato.runtime.errors import LeaseLostError, StepCancelled
from legato.runtime.ports import Coordinator, LeaseGrant, RunStore
from legato.schemas import TERMINAL_STATUSES

log = logging.getLogger("legato.lease")
T = TypeVar("T")
_SELF_FENCE = 0.8  # of the ttl without a successful renewal: stop before others may start


class Holding:
    """One lease this process holds (``token`` is None when another owner holds it)."""

    __slots__ = (
        "beating",
        "ctx",
        "ended",
        "grant",
        "lost",
        "released",
        "renewed",
        "resolved",
        "run_id",
        "running",
        "started",
        "step_id",
        "token",
    )

    def __init__(self, run_id: str, step_id: str, grant: LeaseGrant, now: float) -> None:
        self.run_id = run_id
        self.step_id = step_id
        self.grant = grant
        self.token = grant.token
        self.started = self.renewed = now
        self.lost = False  # another worker may run the step now
        self.ended = False  # the run is no longer running
        self.resolved = False  # set by the pipeline: keep the lease until it expires
        self.released = False
        self.beating = False
        self.running: asyncio.Task[Any] | None = None  # the task awaiting the node
        self.ctx: Any = None  # the node's StepContext while it runs

    def stop(self) -> None:
        """Cancel the node's coroutine if it runs now (sync code sees ``ctx.cancelled``)."""
        if self.ctx is not None:
            self.ctx.cancelled = True
        if self.running is not None:
            self.running.cancel()

    def check(self) -> None:
        """Raise if the step must stop: its run ended or its lease was lost."""
        if self.ended:
            raise StepCancelled(f"step {self.step_id} of run {self.run_id} cancelled: run ended")
        if self.lost:
            raise LeaseLostError(f"lease of {self.run_id}/{self.step_id} lost")


class Leases:
    """The leases of one worker (``owner`` prefix) on one backend."""

    def __init__(
        self,
        coordinator: Coordinator,
        store: RunStore,
        clock: Clock,
        *,
        owner: str,
        ttl: float,
        interval: float,
    ) -> None:
        self.coordinator = coordinator
        self.store = store
        self.clock = clock
        self.owner = owner
        self.ttl = ttl
        self.interval = interval
        self._count = 0
        self._held: set[Holding] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def acquire(self, run_id: str, step_id: str) -> Holding:
        """Take the step's lease: the scope starts (end it with ``finish``). The
        holding's ``token`` is None when another owner holds the lease (its
        ``grant.held_for`` says for how long), or may hold it: in the grace after the
        coordinator lost its data, a step that was claimed before is left to the
        worker that may run it, until that worker has renewed (re-established) its
        lease or the grace is over (``LeaseGrant.grace``)."""
        self._count += 1  # each handling owns its lease alone, even in one process
        owner = f"{self.owner}/{self._count}"
        grant = await self.coordinator.acquire_lease(run_id, step_id, owner, self.ttl)
        if grant.grace:  # the coordinator's data is new: was the step ever claimed?
            view = await self.store.read_step(run_id, step_id, ())
            if view.header is not None and not view.claimed:
                grant = await self.coordinator.acquire_lease(
                    run_id, step_id, owner, self.ttl, unclaimed=True
                )
        holding = Holding(run_id, step_id, grant, self.clock.now())
        if grant.token is not None:
            self._held.add(holding)
            if self._sweeper is None or self._sweeper.done():
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return holding

    async def finish(self, holding: Holding) -> None:
        """End the scope: release the lease unless the step was resolved (a resolved
        step's lease is left to expire)."""
        if holding.token is None:
            return
        if not holding.resolved:
            await self.release_now(holding)
        self._held.discard(holding)

    async def release_now(self, holding: Holding) -> None:
        """Release the lease before the scope ends (a parked wait); idempotent."""
        self._held.discard(holding)
        if holding.released or holding.token is None:
            return
        holding.released = True
        try:
            await self.coordinator.release_lease(holding.run_id, holding.step_id, holding.token)
        except Exception as exc:  # the lease expires on its own
            log.warning("releasing %s/%s failed: %s", holding.run_id, holding.step_id, exc)

    async def guard(self, holding: Holding, ctx: Any, call: Coroutine[Any, Any, T]) -> T:
        """Await ``call`` (the node on ``ctx``) so that losing the lease or the run's
        end cancels it; raises ``StepCancelled`` or ``LeaseLostError`` then."""
        if holding.ended or holding.lost:
            call.close()
            holding.check()
        task = asyncio.current_task()
        assert task is not None
        holding.running, holding.ctx = task, ctx
        try:
            return await call
        except asyncio.CancelledError:
            if (holding.ended or holding.lost) and task.uncancel() == 0:
                holding.check()
            raise
        finally:
            holding.running = holding.ctx = None

    def end_run(self, run_id: str) -> int:
        """The run ended: stop this process's steps of it now; returns how many."""
        ended = [h for h in self._held if h.run_id == run_id]
        for h in ended:
            h.ended = True
            h.stop()
        return len(ended)

    def in_flight(self) -> int:
        return len(self._held)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None

    async def _sweep(self) -> None:
        while self._held:
            await self.clock.sleep(self.interval)
            due = self.clock.now() - self.interval
            beats = [h for h in self._held if h.started <= due and not h.beating]
            if beats:
                await asyncio.gather(*(self._heartbeat(h) for h in beats))

    async def _heartbeat(self, h: Holding) -> None:
        assert h.token is not None
        h.beating = True
        try:
            held = await self.coordinator.renew_lease(h.run_id, h.step_id, h.token, self.ttl)
            if held:
                h.renewed = self.clock.now()
            else:
                h.lost = True
            header = await self.store.get_run(h.run_id)
            if header is None or header.status in TERMINAL_STATUSES:  # paused: finish
                h.ended = True
        except Exception as exc:  # a lost server must not stop the step at once
            log.warning("heartbeat of %s/%s failed: %s", h.run_id, h.step_id, exc)
        finally:
            h.beating = False
        if not h.lost and self.clock.now() - h.renewed > _SELF_FENCE * self.ttl:
            log.warning(
                "lease of %s/%s not renewed for %.1fs: stopping the step",
                h.run_id,
                h.step_id,
                self.clock.now() - h.renewed,
            )
            h.lost = True
        if h.lost or h.ended:
            h.stop()
