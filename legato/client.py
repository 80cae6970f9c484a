"""Start, watch and steer runs from any Python service (``legato.Client``)."""

from __future__ import annotations

import asyncio
from typing import Any

from legato.config import Settings
from legato.distributed import Distributed, connect
from legato.runtime.compiler import compile_blueprint
from legato.runtime.engine import Engine, RunResult
from legato.runtime.registry import Registry
from legato.schemas import Blueprint, Event, RunHeader


class Client:
    """Talks to a Legato deployment (Kafka + Cassandra + Redis); runs no steps itself.

    Example::

        client = await legato.Client.connect(settings)
        await client.register(legato.compile("etl.yaml"))
        run_id = await client.start("etl", {"day": "2026-11-24"}, version="1")
        result = await client.wait(run_id, timeout=60)
    """

    def __init__(self, dist: Distributed) -> None:
        self._dist = dist
        self._engine = Engine(dist.backend)

    @classmethod
    async def connect(cls, settings: Settings) -> Client:
        return cls(await connect(settings))

    async def register(self, blueprint: Registry | Blueprint) -> tuple[str, str]:
        """Register a blueprint version (versions are immutable: the first one stays)."""
        bp = blueprint.blueprint if isinstance(blueprint, Registry) else blueprint
        if isinstance(blueprint, Blueprint):
            compile_blueprint(bp)  # refuse invalid blueprints here, not on the workers
        await self._dist.backend.blueprints.put_blueprint(bp)
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
            return await self._engine.start(blueprint, input, run_id=run_id, register=False)
        return await self._engine.start_registered(blueprint, version, input, run_id=run_id)

    async def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        return await self._engine.wait(run_id, timeout=timeout)

    async def status(self, run_id: str) -> RunHeader:
        return await self._engine.status(run_id)

    async def history(self, run_id: str) -> list[Event]:
        await self._engine.status(run_id)
        return await self._dist.backend.store.history(run_id)

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        return await self._engine.cancel(run_id, reason)

    async def signal(
        self, run_id: str, name: str, data: Any = None, *, key: str | None = None
    ) -> bool:
        return await self._engine.signal(run_id, name, data, key=key)

    async def close(self) -> None:
        await self._dist.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SyncClient:
    """``Client`` for code that is not async; each call runs on a private event loop."""

    def __init__(self, settings: Settings) -> None:
        self._runner = asyncio.Runner()
        self._client = self._runner.run(Client.connect(settings))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(method(*args, **kwargs))

        return call

    def close(self) -> None:
        self._runner.run(self._client.close())
        self._runner.close()
