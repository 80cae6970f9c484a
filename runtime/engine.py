"""Starting runs, running workers, waiting for results: the same for every backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from legato.runtime import metrics
from legato.runtime.compiler import compile_blueprint, compile_structure
from legato.runtime.context import final_context
from legato.runtime.errors import (
    BackendUnavailableError,
    RunNotFoundError,
    UnknownBlueprintError,
)
from legato.runtime.executor import DEFAULT_MAX_VALUE_BYTES, Executor
from legato.runtime.nodes import NodeCatalog
from legato.runtime.ports import BlueprintStore, Coordinator, JobBus, RunStore, Timers
from legato.runtime.registry import Registry
from legato.runtime.tracing import default_tracer, step_span
from legato.runtime.waits import signal_name
from legato.schemas import Job, RunCancelled, RunHeader, RunStarted, SignalReceived

log = logging.getLogger("legato.engine")


@dataclass(frozen=True)
class Backend:
    """One implementation of every port."""

    store: RunStore
    blueprints: BlueprintStore
    coordinator: Coordinator
    bus: JobBus
    timers: Timers


@dataclass(frozen=True)
class RunResult:
    """The outcome of a run, as ``legato run`` prints it."""

    run_id: str
    status: str
    outputs: dict[str, Any]
    error: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "status": self.status,
            "outputs": self.outputs,
        }
        if self.error is not None:
            out["error"] = self.error
        out["context"] = self.context
        return out


class Registries:
    """Compiled registries by (id, version), compiled on demand from the BlueprintStore."""

    def __init__(self, blueprints: BlueprintStore, catalog: NodeCatalog | None = None) -> None:
        self._blueprints = blueprints
        self._catalog = catalog
        self._compiled: dict[tuple[str, str], Registry] = {}

    def add(self, registry: Registry) -> None:
        self._compiled[(registry.id, registry.version)] = registry

    async def get(self, blueprint_id: str, version: str) -> Registry:
        reg = self._compiled.get((blueprint_id, version))
        if reg is not None:
            return reg
        bp = await self._blueprints.get_blueprint(blueprint_id, version)
        if bp is None:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} is not registered"
            )
        try:
            reg = compile_blueprint(bp, self._catalog)
        except Exception as exc:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} does not compile here: {exc}"
            ) from exc
        self._compiled[(blueprint_id, version)] = reg
        return reg


class Engine:
    """Runs blueprints on a backend (``legato.Engine()`` defaults to the embedded one).

    ``run`` starts a run and works on it until it ends.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        catalog: NodeCatalog | None = None,
        concurrency: int = 64,
        worker_id: str | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        lease_ttl: float = 30.0,
        heartbeat_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        tracer: Any = None,
    ) -> None:
        self.backend = backend
        self.registries = Registries(backend.blueprints, catalog)
        self.executor = Executor(
            store=backend.store,
            coordinator=backend.coordinator,
            bus=backend.bus,
            timers=backend.timers,
            registries=self.registries,
            worker_id=worker_id or f"w-{uuid.uuid4().hex[:8]}",
            max_value_bytes=max_value_bytes,
            lease_ttl=lease_ttl,
            heartbeat_interval=heartbeat_interval,
            clock=clock,
        )
        self.concurrency = concurrency
        self.backoff_initial = 0.2
        self.backoff_max = 30.0
        self.max_redeliveries = 12
        self.redelivery_delay = 1.0
        self.clock = clock
        self._workers: list[asyncio.Task[None]] = []
        self._timer_task: asyncio.Task[None] | None = None
        self._busy = 0
        self.tracer = tracer if tracer is not None else default_tracer()
        self._idle = asyncio.Event()
        self.timer_interval = 0.1

    async def register(self, registry: Registry) -> Registry:
        await self.backend.blueprints.put_blueprint(registry.blueprint)
        self.registries.add(registry)
        return registry

    async def start(
        self,
        registry: Registry,
        input: Any = None,
        *,
        run_id: str | None = None,
        register: bool = True,
    ) -> str:
        """Create a run and enqueue its start steps; returns the run id. Starting an
        existing ``run_id`` again starts nothing (idempotent)."""
        if register:
            await self.register(registry)
        rid = run_id or uuid.uuid4().hex
        now = self.clock()
        header = RunHeader(rid, registry.id, registry.version, "running", input, None, now, now)
        event = RunStarted(
            at=now, run_id=rid, blueprint_id=registry.id, version=registry.version, input=input
        )
        if await self.backend.store.create_run(header, event):
            span = (
                self.tracer.start_as_current_span(
                    f"run {registry.id}", attributes={"legato.run_id": rid}
                )
                if self.tracer is not None
                else contextlib.nullcontext()
            )
            with span:
                await self._publish_start(registry, rid)
        return rid

    async def _publish_start(self, registry: Registry, rid: str) -> None:
        await self.backend.bus.publish(
            [
                Job(rid, registry.nodes[n].step_id(0), n, registry.id, registry.version)
                for n in registry.start
            ]
        )

    async def start_registered(
        self, blueprint_id: str, version: str, input: Any = None, *, run_id: str | None = None
    ) -> str:
        """Start a run of a registered blueprint; this process needs none of its node code."""
        bp = await self.backend.blueprints.get_blueprint(blueprint_id, version)
        if bp is None:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} is not registered"
            )
        return await self.start(compile_structure(bp), input, run_id=run_id, register=False)

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
        header = await self.backend.store.wait_finished(run_id, timeout)
        return await self.result(header)

    async def result(self, header: RunHeader) -> RunResult:
        store = self.backend.store
        steps = await store.all_steps(header.run_id)
        outputs = {s: r.output for s, r in steps.items() if r.status == "done"}
        writes = await store.all_context(header.run_id)
        context: dict[str, Any] = {}
        if writes:
            context = final_context(await self.structure(header), writes)
        return RunResult(header.run_id, header.status, outputs, header.error, context)

    async def structure(self, header: RunHeader) -> Registry:
        """The run's registry, or its structure when this process lacks the node code."""
        try:
            return await self.registries.get(header.blueprint_id, header.version)
        except UnknownBlueprintError:
            bp = await self.backend.blueprints.get_blueprint(header.blueprint_id, header.version)
            if bp is None:
                raise
            return compile_structure(bp)

    async def status(self, run_id: str) -> RunHeader:
        header = await self.backend.store.get_run(run_id)
        if header is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")
        return header

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        """Cancel a running run: no new step starts. False if it had already ended."""
        await self.status(run_id)
        event = RunCancelled(at=self.clock(), reason=reason)
        done: bool = await self.backend.store.finish_run(run_id, "cancelled", event, reason or None)
        if done:
            await self.backend.coordinator.forget_run(run_id)
            await self.backend.timers.drop_run(run_id)  # its retries, sleeps and waits
        self.executor.guards.cancel_run(run_id)
        return done

    async def signal(
        self, run_id: str, name: str, data: Any = None, *, key: str | None = None
    ) -> bool:
        """Send signal ``name`` (optionally ``key``ed) with ``data`` to a run.

        The first signal of a name is kept, whether or not a step waits for it
        yet; a step waiting for it is woken. False if the run has ended or the
        signal was already received.
        """
        header = await self.status(run_id)
        if header.status != "running":
            return False
        full = signal_name(name, key)
        event = SignalReceived(at=self.clock(), name=full, data=data)
        kept: bool = await self.backend.store.put_signal(run_id, full, data, event)
        waiting = await self.backend.store.get_waiters(run_id, full)
        if waiting:
            await self.backend.bus.publish(waiting)
        return kept

    # -- workers -------------------------------------------------------------------------

    def start_workers(self) -> None:
        """Consume jobs with ``concurrency`` workers; poll due timers if the backend's
        timers need polling (durable timers in a database)."""
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"legato-worker-{i}")
                for i in range(self.concurrency)
            ]
            if hasattr(self.backend.timers, "fire_due"):
                self._timer_task = asyncio.create_task(self._poll_timers(), name="legato-timers")

    async def _work(self) -> None:
        async for delivery in self.backend.bus.consume():
            self._busy += 1
            self._idle.clear()
            try:
                if self.tracer is None:
                    await self.process(delivery.job)
                else:
                    headers = getattr(delivery, "headers", None)
                    with step_span(self.tracer, delivery.job, headers):
                        await self.process(delivery.job)
                await delivery.ack()
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()

    async def _poll_timers(self) -> None:
        fire_due = self.backend.timers.fire_due  # type: ignore[attr-defined]
        delay = self.timer_interval
        while True:
            try:
                metrics.timers_fired(await fire_due(self.backend.bus))
                delay = self.timer_interval
            except BackendUnavailableError as exc:
                log.warning("timers unavailable, retrying in %.1fs: %s", delay, exc)
                delay = min(delay * 2, self.backoff_max)
            except Exception:
                log.exception("firing timers failed")
            await asyncio.sleep(delay)

    @property
    def busy(self) -> int:
        """Jobs being handled right now."""
        return self._busy

    async def drain(self, timeout: float = 30.0) -> bool:
        """Stop taking jobs, let the ones in hand finish (up to ``timeout``), then close.
        Returns False if some were still running at the deadline (they are redelivered)."""
        pause = getattr(self.backend.bus, "pause", None)
        if pause is not None:
            pause()
        if self._busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
        finished = self._busy == 0
        await self.close()
        return finished

    async def process(self, job: Job) -> None:
        """Handle one job until its effects are recorded. A lost server is waited
        out with capped exponential backoff: the job is never dropped, the worker
        never exits."""
        delay = self.backoff_initial
        while True:
            try:
                await self.executor.handle(job)
                return
            except BackendUnavailableError as exc:
                log.warning(
                    "server unavailable handling %s/%s, retrying in %.1fs: %s",
                    job.run_id,
                    job.step_id,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff_max)
            except UnknownBlueprintError as exc:
                await self._unknown_blueprint(job, exc)
                return
            except Exception as exc:
                await self._unexpected(job, exc)
                return

    async def _unknown_blueprint(self, job: Job, exc: UnknownBlueprintError) -> None:
        """Leave the job for a worker that has the blueprint's nodes (re-enqueued with a
        growing delay); after ``max_redeliveries`` fail the run, saying why."""
        if job.redeliveries < self.max_redeliveries:
            delay = min(60.0, self.redelivery_delay * 2.0**job.redeliveries)
            log.warning("%s; job %s/%s re-enqueued in %.0fs", exc, job.run_id, job.step_id, delay)
            retry = msgspec.structs.replace(job, redeliveries=job.redeliveries + 1)
            await self.backend.timers.schedule(self.clock() + delay, retry)
            return
        await self.executor.fail_run(
            job.run_id, f"step {job.step_id} could not run on any worker: {exc}", job.step_id
        )

    async def _unexpected(self, job: Job, exc: Exception) -> None:
        log.exception("job %s/%s failed inside Legato", job.run_id, job.step_id)
        try:
            await self.executor.fail_run(
                job.run_id, f"internal error at {job.step_id}: {exc!r}", job.step_id
            )
        except Exception:
            log.exception("could not mark run %s failed", job.run_id)

    async def close(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
            await asyncio.gather(self._timer_task, return_exceptions=True)
            self._timer_task = None
        await self.backend.bus.close()
        for t in self._workers:
            t.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        await self.executor.guards.close()
        cancel_all = getattr(self.backend.timers, "cancel_all", None)
        if cancel_all is not None:
            cancel_all()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
