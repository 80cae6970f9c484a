"""A worker announces itself while it runs, so that operators see who works on what.

Every ``interval`` seconds the worker's ``WorkerInfo`` (id, host, queues,
concurrency, steps in flight) goes to the coordinator, which lists it for ``ttl``
seconds after each heartbeat: a worker that dies drops out by itself, one that
stops says so. A coordinator outage only delays the next heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence

from legato.runtime.errors import LegatoError
from legato.runtime.ports import Coordinator
from legato.runtime.worker import Worker
from legato.schemas import WorkerInfo

log = logging.getLogger("legato.presence")


class Presence:
    """Heartbeats of one worker (``start`` / ``stop``)."""

    def __init__(
        self,
        coordinator: Coordinator,
        worker: Worker,
        queues: Sequence[str],
        *,
        interval: float = 5.0,
        ttl: float = 15.0,
    ) -> None:
        if ttl <= interval:
            raise ValueError(f"ttl ({ttl}) must be longer than the interval ({interval})")
        self.coordinator = coordinator
        self.worker = worker
        self.queues = tuple(queues)
        self.interval = interval
        self.ttl = ttl
        self.host = socket.gethostname()
        self.started_at = worker.backend.clock.now()
        self._task: asyncio.Task[None] | None = None

    def info(self) -> WorkerInfo:
        """What this worker says of itself now."""
        return WorkerInfo(
            worker_id=self.worker.worker_id,
            host=self.host,
            pid=os.getpid(),
            queues=self.queues,
            concurrency=self.worker.settings.concurrency,
            in_flight=self.worker.busy,
            started_at=self.started_at,
            heartbeat_at=self.worker.backend.clock.now(),
        )

    async def beat(self) -> None:
        """One heartbeat now."""
        await self.coordinator.heartbeat_worker(self.info(), self.ttl)

    async def _run(self) -> None:
        clock = self.worker.backend.clock
        while True:
            try:
                await self.beat()
            except LegatoError as exc:
                log.warning("worker heartbeat not recorded: %s", exc)
            await clock.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="legato-presence")

    async def stop(self) -> None:
        """Stop heartbeating and leave the list of live workers."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.coordinator.drop_worker(self.worker.worker_id)
        except LegatoError as exc:  # it drops out when its last heartbeat expires
            log.warning("worker not removed from the live list: %s", exc)
