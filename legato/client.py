"""Start, watch and steer runs from any Python service (``legato.Client``).

A client is run control over a deployment's backend: it runs no steps and needs
no node code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from legato.adapters import open_backend
from legato.adapters.settings import Settings
from legato.runtime.compiler import compile_blueprint
from legato.runtime.control import RunControl, RunResult
from legato.runtime.ending import RunEnding
from legato.runtime.ports import Backend, RunPage
from legato.runtime.registries import Registries
from legato.runtime.registry import Registry
from legato.schemas import Blueprint, Event, RunHeader


class Client:
    """Talks to a Legato deployment (Kafka + Cassandra + Redis); runs no steps itself.

    Example::

        async with await legato.Client.connect(settings) as client:
            await client.register(legato.compile("etl.yaml"))
            run_id = await client.start("etl", {"day": "2026-11-24"}, version="1")
            result = await client.wait(run_id, timeout=60)
    """

    def __init__(self, backend: Backend, *, owns_backend: bool = False) -> None:
        self.backend = backend
        self._owns = owns_backend
        ending = RunEnding(backend.store, backend.coordinator, backend.timers, backend.clock.now)
        self.control = RunControl(backend, Registries(backend.blueprints), ending)

    @classmethod
    async def connect(cls, settings: Settings) -> Client:
        """A client of the deployment ``settings`` names (closed with ``close``)."""
        return cls(await open_backend(settings), owns_backend=True)

    async def register(self, blueprint: Registry | Blueprint) -> tuple[str, str]:
        """Register a blueprint version (versions are immutable: the first one stays)."""
        bp = blueprint.blueprint if isinstance(blueprint, Registry) else blueprint
        if isinstance(blueprint, Blueprint):
            compile_blueprint(bp)  # refuse invalid blueprints here, not on the workers
        await self.backend.blueprints.put_blueprint(bp)
        return bp.id, bp.version

    async def start(
        self,
        blueprint: str | Registry,
        input: Any = None,
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

    async def signal(
        self, run_id: str, name: str, data: Any = None, *, key: str | None = None
    ) -> bool:
        return await self.control.signal(run_id, name, data, key=key)

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
        input: Any = None,
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

    def signal(self, run_id: str, name: str, data: Any = None, *, key: str | None = None) -> bool:
        return self._runner.run(self._client.signal(run_id, name, data, key=key))

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
