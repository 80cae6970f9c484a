"""The engine: a worker and run control on one backend, for one process.

``legato.Engine()`` is the embedded engine (the memory backend); a distributed
worker process, the CLI's ``legato run`` and tests use an ``Engine`` on other
backends. Roles stay apart inside: ``engine.control`` starts and steers runs,
``engine.worker`` handles jobs; both end runs through the same ``RunEnding``,
so a run cancelled here stops its steps running here at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from legato.runtime.control import RunControl, RunResult
from legato.runtime.ending import RunEnding
from legato.runtime.nodes import NodeCatalog
from legato.runtime.pipeline import Work
from legato.runtime.ports import Backend, RunPage
from legato.runtime.registries import Registries
from legato.runtime.registry import Registry
from legato.runtime.tracing import default_tracer
from legato.runtime.worker import Worker, WorkerSettings
from legato.schemas import Event, Job, RunHeader

__all__ = ["Engine", "RunResult"]


class Engine:
    """Runs blueprints on a backend.

    Args:
        backend: the ports; the engine closes it on ``close`` only if ``owns_backend``.
        catalog: node implementations registered by name (default: the global one).
        settings: how the worker runs steps; keyword arguments override its fields
            (``concurrency=8``, ``lease_ttl=5``, ...).
        tracer: an OpenTelemetry tracer (default: the global one, if an SDK is set up).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        catalog: NodeCatalog | None = None,
        settings: WorkerSettings | None = None,
        tracer: Any = None,
        owns_backend: bool = False,
        **overrides: Any,
    ) -> None:
        self.backend = backend
        self.owns_backend = owns_backend
        self.settings = dataclasses.replace(settings or WorkerSettings(), **overrides)
        self.tracer = tracer if tracer is not None else default_tracer()
        self.registries = Registries(backend.blueprints, catalog)
        self.ending = RunEnding(
            backend.store, backend.coordinator, backend.timers, backend.clock.now
        )
        self.control = RunControl(backend, self.registries, self.ending, tracer=self.tracer)
        self.worker = Worker(
            backend, self.registries, self.settings, self.ending, tracer=self.tracer
        )

    # -- run control -----------------------------------------------------------------------

    async def register(self, registry: Registry) -> Registry:
        return await self.control.register(registry)

    async def start(
        self,
        registry: Registry,
        input: Any = None,
        *,
        run_id: str | None = None,
        register: bool = True,
    ) -> str:
        return await self.control.start(registry, input, run_id=run_id, register=register)

    async def start_registered(
        self, blueprint_id: str, version: str, input: Any = None, *, run_id: str | None = None
    ) -> str:
        return await self.control.start_registered(blueprint_id, version, input, run_id=run_id)

    async def run(
        self,
        registry: Registry,
        input: Any = None,
        *,
        run_id: str | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Start a run, work on it until it ends, return its result."""
        self.start_workers()
        rid = await self.start(registry, input, run_id=run_id)
        return await self.wait(rid, timeout=timeout)

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunResult:
        return await self.control.wait(run_id, timeout=timeout)

    async def result(self, header: RunHeader) -> RunResult:
        return await self.control.result(header)

    async def structure(self, header: RunHeader) -> Registry:
        """The run's registry, or its structure when this process lacks the node code."""
        return await self.registries.structure(header.blueprint_id, header.version)

    async def status(self, run_id: str) -> RunHeader:
        return await self.control.status(run_id)

    async def history(self, run_id: str) -> list[Event]:
        return await self.control.history(run_id)

    async def list_runs(self, **query: Any) -> RunPage:
        """``RunControl.list_runs``: runs newest first, by blueprint, status, window."""
        return await self.control.list_runs(**query)

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        return await self.control.cancel(run_id, reason)

    async def signal(
        self, run_id: str, name: str, data: Any = None, *, key: str | None = None
    ) -> bool:
        return await self.control.signal(run_id, name, data, key=key)

    # -- the worker ------------------------------------------------------------------------

    def start_workers(self) -> None:
        """Consume jobs (``settings.concurrency`` at once) and fire due timers."""
        self.worker.start()

    async def handle(self, job: Job) -> None:
        """Run one job through the step pipeline now (tests, hand-driven runs)."""
        await self.worker.handle(Work(job))

    @property
    def busy(self) -> int:
        """Jobs being handled right now."""
        return self.worker.busy

    async def drain(self, timeout: float = 30.0) -> bool:
        """Stop taking jobs, let the ones in hand finish (up to ``timeout``), then close.
        Returns False if some were still running at the deadline (they are redelivered)."""
        finished = await self.worker.drain(timeout)
        await self.close()
        return finished

    async def close(self) -> None:
        await self.worker.stop()
        if self.owns_backend:
            await self.backend.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
