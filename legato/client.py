"""Start, watch and steer runs from any Python service (``legato.Client``).

A client is run control over a deployment's backend: it runs no steps and needs
no node code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from legato.adapters import open_backend
from legato.adapters.settings import Settings
from legato.reconciler.retry import retry_run
from legato.runtime.compiler import compile_blueprint
from legato.runtime.control import RunControl, RunResult
from legato.runtime.ending import RunEnding
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.ports import Backend, RunPage
from legato.runtime.registries import Registries
from legato.runtime.registry import Registry
from legato.runtime.schedules import Schedules
from legato.schemas import Blueprint, Event, RunHeader, RunRetried


class Client:
    """Talks to a Legato deployment (Kafka + Cassandra + Redis); runs no steps itself.

    Example::

        async with await legato.Client.connect(settings) as client:
            await client.register(legato.compile("etl.yaml"))
            run_id = await client.start("etl", {"day": "2026-11-24"}, version="1")
            result = await client.wait(run_id, timeout=60)
    """

    def __init__(
        self, backend: Backend, *, owns_backend: bool = False, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.backend = backend
        self._owns = owns_backend
        ending = RunEnding(backend.store, backend.coordinator, backend.timers, backend.clock.now)
        self.control = RunControl(backend, Registries(backend.blueprints), ending, limits=limits)
        self.schedules = Schedules(backend, ending)  # add, entries, pause, resume, delete

    @classmethod
    async def connect(cls, settings: Settings) -> Client:
        """A client of the deployment ``settings`` names (closed with ``close``); runs
        it starts are held to ``settings.limits``."""
        return cls(await open_backend(settings), owns_backend=True, limits=settings.limits)

    async def register(self, blueprint: Registry | Blueprint) -> tuple[str, str]:
        """Register a blueprint version (versions are immutable: the first one stays)."""
        bp = blueprint.blueprint if isinstance(blueprint, Registry) else blueprint
        if isinstance(blueprint, Blueprint):
            compile_blueprint(bp)  # refuse invalid blueprints here, not on the workers
        await self.backend.blueprints.put_blueprint(bp)
        await self.schedules.declare(bp)  # its `schedule:`, if any
        return bp.id, bp.version

    async def start(
        self,
        blueprint: str | Registry,
        input: object = None,
        *,
        version: str = "1",
        run_id: str | None = None,
    ) -> str:
        """Start a run of a registered blueprint (by id and version) or of a registry
        (registered first). Returns the run id; the same ``run_id`` starts once."""
        if isinstance(blueprint, Registry):
            await self.register(blueprint)
            return await self.control.start(blueprint, input, run_id=run_id, register=False)
        return await self.control.start_registered(blueprint, version, input, run_id=run_id)

    async def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        return await self.control.wait(run_id, timeout=timeout)

    async def status(self, run_id: str) -> RunHeader:
        return await self.control.status(run_id)

    async def history(self, run_id: str) -> list[Event]:
        return await self.control.history(run_id)

    def follow(self, run_id: str, *, interval: float = 0.5) -> AsyncIterator[Event]:
        """The run's events as they are recorded, until it ends (``RunControl.follow``)."""
        return self.control.follow(run_id, interval=interval)

    async def list_runs(
        self,
        *,
        blueprint: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs newest first, by blueprint id, status and start window (``since``
        inclusive, ``until`` exclusive), ``limit`` a page; the page's ``cursor`` gets
        the next one (None: that was the last)."""
        return await self.control.list_runs(
            blueprint=blueprint,
            status=status,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        return await self.control.cancel(run_id, reason)

    async def retry(self, run_id: str, from_step: str | None = None) -> RunRetried:
        """Re-open a failed or cancelled run: its failed steps (or ``from_step`` and
        everything downstream) run again, other outputs stand, the run id stays.
        Embedded: ``Client(engine.backend).retry(...)`` while the engine works."""
        return await retry_run(
            self.backend,
            self.control.registries,
            self.control.ending,
            run_id,
            from_step,
            limits=self.control.limits,
        )

    async def publish(
        self,
        event: str,
        key: str,
        data: object = None,
        *,
        retain: float = 0.0,
        event_id: str | None = None,
    ) -> int:
        """Deliver an event to every run waiting on ``event`` and ``key``, and to runs
        that start waiting within ``retain`` seconds. Returns how many were waiting."""
        return await self.control.publish(event, key, data, retain=retain, event_id=event_id)

    async def pause(self, run_id: str, reason: str = "") -> None:
        """Pause a running run (``RunStateError`` if it is not running)."""
        await self.control.pause(run_id, reason)

    async def resume(self, run_id: str) -> int:
        """Resume a paused run (``RunStateError`` if it is not paused)."""
        return await self.control.resume(run_id)

    async def signal(
        self,
        run_id: str,
        name: str,
        data: object = None,
        *,
        key: str | None = None,
        dedupe: str | None = None,
    ) -> bool:
        """Queue a signal for the run's waits of ``name`` (the oldest is consumed
        first); ``dedupe`` makes it idempotent. False: the run ended, or a duplicate."""
        return await self.control.signal(run_id, name, data, key=key, dedupe=dedupe)

    async def close(self) -> None:
        if self._owns:
            await self.backend.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SyncClient:
    """``Client`` for code that is not async; each call runs on a private event loop."""

    def __init__(self, settings: Settings) -> None:
        self._runner = asyncio.Runner()
        self._client = self._runner.run(Client.connect(settings))

    def register(self, blueprint: Registry | Blueprint) -> tuple[str, str]:
        return self._runner.run(self._client.register(blueprint))

    def start(
        self,
        blueprint: str | Registry,
        input: object = None,
        *,
        version: str = "1",
        run_id: str | None = None,
    ) -> str:
        return self._runner.run(
            self._client.start(blueprint, input, version=version, run_id=run_id)
        )

    def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        return self._runner.run(self._client.wait(run_id, timeout))

    def status(self, run_id: str) -> RunHeader:
        return self._runner.run(self._client.status(run_id))

    def history(self, run_id: str) -> list[Event]:
        return self._runner.run(self._client.history(run_id))

    def list_runs(
        self,
        *,
        blueprint: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        return self._runner.run(
            self._client.list_runs(
                blueprint=blueprint,
                status=status,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        )

    def cancel(self, run_id: str, reason: str = "") -> bool:
        return self._runner.run(self._client.cancel(run_id, reason))

    def retry(self, run_id: str, from_step: str | None = None) -> RunRetried:
        return self._runner.run(self._client.retry(run_id, from_step))

    def publish(self, event: str, key: str, data: object = None, *, retain: float = 0.0) -> int:
        return self._runner.run(self._client.publish(event, key, data, retain=retain))

    def pause(self, run_id: str, reason: str = "") -> None:
        self._runner.run(self._client.pause(run_id, reason))

    def resume(self, run_id: str) -> int:
        return self._runner.run(self._client.resume(run_id))

    def signal(
        self,
        run_id: str,
        name: str,
        data: object = None,
        *,
        key: str | None = None,
        dedupe: str | None = None,
    ) -> bool:
        return self._runner.run(self._client.signal(run_id, name, data, key=key, dedupe=dedupe))

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
