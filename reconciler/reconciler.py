"""Finding stalled runs and resuming them; one pass per call (a CronJob runs one).

A pass pages through every active run (the store's index, a page at a time, so
no number of long-parked runs hides a newer stalled one). A run with recorded
progress within ``stalled_after`` is left alone. A run that an earlier pass
found with nothing to do (every open step waits for a signal, a timer that is
not yet late, or a live worker) is *parked* at that progress: later passes pass
over it without reading its history until it progresses or the recheck time
comes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from legato.reconciler.resume import Resumer
from legato.runtime import metrics
from legato.runtime.ending import RunEnding
from legato.runtime.errors import LegatoError
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.ports import Backend
from legato.runtime.registries import Registries
from legato.schemas import RunHeader

log = logging.getLogger("legato.reconciler")


@dataclass
class PassStats:
    """What one pass saw and did; printed as JSON by ``legato reconcile --once``."""

    scanned: int = 0  # active runs looked at
    stalled: int = 0  # of those, without progress for the threshold
    resumed: int = 0  # stalled runs for which steps were re-enqueued
    failed: int = 0  # stalled runs failed because their history says so
    jobs: int = 0  # steps re-enqueued in all
    leased: int = 0  # steps left alone because a live worker holds their lease
    parked: int = 0  # stalled runs passed over: an earlier pass found nothing to do
    errors: int = 0  # runs that could not be resumed (see the log)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Reconciler:
    """Resumes runs of ``backend`` with no recorded progress for ``stalled_after`` seconds.

    Args:
        registries: compiled blueprints (default: structures from the backend's store).
        page: runs read from the active index at a time.
        recheck: a run with a step held by a live worker is looked at again after
            this many seconds even without progress.
        parking: pass over runs an earlier pass found nothing to do in (False: look
            at every stalled run; a repair after Redis lost its data).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        stalled_after: float = 60.0,
        registries: Registries | None = None,
        ending: RunEnding | None = None,
        page: int = 500,
        recheck: float = 600.0,
        parking: bool = True,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.backend = backend
        self.stalled_after = stalled_after
        self.registries = registries or Registries(backend.blueprints)
        ending = ending or RunEnding(
            backend.store, backend.coordinator, backend.timers, backend.clock.now
        )
        self.resumer = Resumer(backend, ending, limits=limits)
        self.page = page
        self.recheck = recheck
        self.parking = parking

    async def run_once(self) -> PassStats:
        stats = PassStats()
        now = self.backend.clock.now()
        after: str | None = None
        while True:
            page = await self.backend.store.list_active(self.page, after)
            for header in page.headers:
                await self._look_at(header, now, stats)
            if page.after is None:
                break
            after = page.after
        metrics.reconciler_pass(stats.to_dict())
        return stats

    async def _look_at(self, header: RunHeader, now: float, stats: PassStats) -> None:
        stats.scanned += 1
        if header.status != "running" or now - header.updated_at < self.stalled_after:
            return
        stats.stalled += 1
        if (
            self.parking
            and header.parked_at == header.updated_at
            and (header.parked_until is None or now < header.parked_until)
        ):
            stats.parked += 1
            return
        try:
            reg = await self.registries.structure(header.blueprint_id, header.version)
            outcome = await self.resumer.resume(header, reg, now=now)
            if not outcome.jobs and not outcome.failed:
                until = outcome.recheck_at
                if outcome.leased:
                    until = min(until or now + self.recheck, now + self.recheck)
                await self.backend.store.park(header.run_id, header.updated_at, until)
        except LegatoError as exc:
            stats.errors += 1
            log.error("cannot resume run %s: %s", header.run_id, exc)
            return
        stats.jobs += outcome.jobs
        stats.leased += outcome.leased
        if outcome.failed:
            stats.failed += 1
        elif outcome.jobs or await self._ended(header.run_id):
            stats.resumed += 1

    async def _ended(self, run_id: str) -> bool:
        header = await self.backend.store.get_run(run_id)
        return header is not None and header.status != "running"
