"""Finding stalled runs and resuming them; one pass per call (a CronJob runs one)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from legato.runtime import metrics
from legato.runtime.engine import Engine
from legato.runtime.errors import LegatoError
from legato.runtime.resume import resume_run

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
    errors: int = 0  # runs that could not be resumed (see the log)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Reconciler:
    """Resumes runs with no recorded progress for ``stalled_after`` seconds."""

    def __init__(
        self,
        engine: Engine,
        *,
        stalled_after: float = 60.0,
        limit: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.executor = engine.executor
        self.stalled_after = stalled_after
        self.limit = limit
        self.clock = clock

    async def run_once(self) -> PassStats:
        stats = PassStats()
        now = self.clock()
        for header in await self.executor.store.list_active(self.limit):
            stats.scanned += 1
            if header.status != "running" or now - header.updated_at < self.stalled_after:
                continue
            stats.stalled += 1
            try:
                reg = await self.engine.structure(header)
                outcome = await resume_run(self.executor, header, reg, now=now)
            except LegatoError as exc:
                stats.errors += 1
                log.error("cannot resume run %s: %s", header.run_id, exc)
                continue
            stats.jobs += outcome.jobs
            stats.leased += outcome.leased
            if outcome.failed:
                stats.failed += 1
            elif outcome.jobs or await self._ended(header.run_id):
                stats.resumed += 1
        metrics.reconciler_pass(stats.to_dict())
        return stats

    async def _ended(self, run_id: str) -> bool:
        header = await self.executor.store.get_run(run_id)
        return header is not None and header.status != "running"
