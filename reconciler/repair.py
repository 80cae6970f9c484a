"""Repairing coordination state at once when Redis lost its data.

Redis holds only what the history can rebuild, and the reconciler rebuilds it
for stalled runs. But after a flush or a restart without persistence every
active run's join state is gone, and waiting for each run to stall (minutes)
is slow. Workers watch the coordinator's ``epoch``: the one worker whose call
starts a new epoch waits ``delay`` seconds (a lease's time: every live worker
has renewed, and so re-established, the leases of the steps it runs), then
resumes every active run from its history, parked or not.
"""

from __future__ import annotations

import logging

from legato.reconciler.reconciler import Reconciler
from legato.runtime.ending import RunEnding
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.outages import Outage
from legato.runtime.ports import Backend

log = logging.getLogger("legato.repair")


class RepairWatch:
    def __init__(
        self,
        backend: Backend,
        ending: RunEnding,
        *,
        delay: float,
        interval: float = 5.0,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.backend = backend
        self.delay = delay
        self.interval = interval
        self.reconciler = Reconciler(
            backend, stalled_after=0.0, ending=ending, parking=False, limits=limits
        )
        self.repairs = 0

    async def check(self) -> bool:
        """One look at the epoch; repairs (and returns True) if this call started one."""
        _, created = await self.backend.coordinator.epoch()
        if not created:
            return False
        log.warning("coordinator data is new (lost or first use): repairing in %.0fs", self.delay)
        await self.backend.clock.sleep(self.delay)
        stats = await self.reconciler.run_once()
        self.repairs += 1
        log.warning("repaired coordination state: %s", stats.to_dict())
        return True

    async def watch(self) -> None:
        clock = self.backend.clock
        outage = Outage(log, "coordinator (epoch check)")
        while True:
            try:
                await self.check()
                outage.recovered()
            except BackendUnavailableError as exc:
                outage.failed(exc, self.interval)
            except Exception:
                log.exception("repair failed")
            await clock.sleep(self.interval)
