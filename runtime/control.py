"""Run control: start, signal, cancel, wait for and inspect runs.

The client, the CLI and the reconciler use this; it runs no steps and needs no
node code (a run of a registered blueprint is started from its structure).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from legato.runtime import events, metrics, pausing
from legato.runtime.compiler import compile_structure
from legato.runtime.ending import RunEnding
from legato.runtime.errors import (
    BadRequestError,
    BlueprintInactiveError,
    RunNotFoundError,
    UnknownBlueprintError,
)
from legato.runtime.history import fold
from legato.runtime.limits import DEFAULT_LIMITS, Limits, check_input
from legato.runtime.payloads import check_payload
from legato.runtime.ports import Backend, RunPage, RunQuery
from legato.runtime.registries import Registries
from legato.runtime.registry import Registry
from legato.runtime.tracing import traceparent
from legato.runtime.waits import signal_name
from legato.schemas import (
    TERMINAL_STATUSES,
    Event,
    Job,
    RunHeader,
    RunStarted,
    SignalReceived,
)


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


_key = msgspec.msgpack.Encoder().encode


class RunControl:
    """Starts and steers runs on one backend."""

    def __init__(
        self,
        backend: Backend,
        registries: Registries,
        ending: RunEnding,
        *,
        tracer: Any = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.backend = backend
        self.registries = registries
        self.ending = ending
        self.tracer = tracer
        self.limits = limits

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
        existing ``run_id`` again starts nothing (idempotent).

        Raises:
            RunInputError: ``input`` cannot be stored, or is over ``Limits.input_bytes``
                (``InputTooLargeError``); nothing is started or registered.
        """
        check_input(input, self.limits)
        if register:
            await self.register(registry)
        rid = run_id or uuid.uuid4().hex
        now = self.backend.clock.now()
        header = RunHeader(rid, registry.id, registry.version, "running", input, None, now, now)
        span = (
            self.tracer.start_as_current_span(
                f"run {registry.id}", attributes={"legato.run_id": rid}
            )
            if self.tracer is not None
            else contextlib.nullcontext()
        )
        with span:
            event = RunStarted(
                at=now,
                run_id=rid,
                blueprint_id=registry.id,
                version=registry.version,
                input=input,
                trace=traceparent(),
            )
            if await self.backend.store.create_run(header, event):
                metrics.run_started(registry.id)
                await self.backend.bus.publish(
                    [
                        Job(rid, registry.nodes[n].step_id(0), n, registry.id, registry.version)
                        for n in registry.start
                    ]
                )
        return rid

    async def start_registered(
        self, blueprint_id: str, version: str, input: Any = None, *, run_id: str | None = None
    ) -> str:
        """Start a run of a registered blueprint; this process needs none of its node code.
        A deactivated version raises ``BlueprintInactiveError``."""
        blueprints = self.backend.blueprints
        bp = await blueprints.get_blueprint(blueprint_id, version)
        if bp is None:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} is not registered"
            )
        infos = await blueprints.list_blueprints(blueprint_id)
        if any(i.version == version and not i.active for i in infos):
            raise BlueprintInactiveError(
                f"blueprint {blueprint_id!r} version {version!r} is deactivated: "
                "it starts no new runs"
            )
        return await self.start(compile_structure(bp), input, run_id=run_id, register=False)

    async def status(self, run_id: str) -> RunHeader:
        header = await self.backend.store.get_run(run_id)
        if header is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")
        return header

    async def history(self, run_id: str) -> list[Event]:
        await self.status(run_id)
        return await self.backend.store.history(run_id)

    async def follow(self, run_id: str, *, interval: float = 0.5) -> AsyncIterator[Event]:
        """The run's events, those recorded so far and then each as it is recorded
        (read every ``interval`` seconds), until the run has ended and its last event
        was yielded. Works the same on every backend (it reads only the history)."""
        seen: set[bytes] = set()
        while True:
            header = await self.status(run_id)  # before the history: it then holds the end
            for event in await self.backend.store.history(run_id):
                key = _key(event)
                if key not in seen:  # events of other workers may land before newer ones
                    seen.add(key)
                    yield event
            if header.status != "running":
                return
            await self.backend.clock.sleep(interval)

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
        """Runs newest first (by start), filtered by blueprint id, status and start
        window (``since`` inclusive, ``until`` exclusive); pass the page's ``cursor``
        to get the next one. Raises ``InvalidQueryError`` for a filter it cannot use."""
        query = RunQuery(blueprint, status, since, until, limit, cursor)
        return await self.backend.store.list_runs(query)

    async def wait(self, run_id: str, *, timeout: float | None = None) -> RunResult:
        header = await self.backend.store.wait_finished(run_id, timeout)
        return await self.result(header)

    async def result(self, header: RunHeader) -> RunResult:
        """The run's outputs and final context, folded from its history."""
        reg = await self.registries.structure(header.blueprint_id, header.version)
        state = fold(await self.backend.store.history(header.run_id), reg, edges=False)
        return RunResult(header.run_id, header.status, state.outputs, header.error, state.context)

    async def cancel(self, run_id: str, reason: str = "") -> bool:
        """Cancel a running run: no new step starts, running ones are stopped at their
        next heartbeat (at once in this process). False if it had already ended."""
        await self.status(run_id)
        return await self.ending.cancel(run_id, reason)

    async def publish(
        self,
        event: str,
        key: str,
        data: Any = None,
        *,
        retain: float = 0.0,
        event_id: str | None = None,
    ) -> int:
        """Deliver an event to every run waiting for ``event`` and ``key`` (and, for
        ``retain`` seconds, to runs that start waiting); returns how many steps it
        was delivered to. ``event_id`` makes it idempotent. ``PayloadTooLargeError``
        if ``data`` is over the value size limit."""
        check_payload(data, "event data", self.limits.output_bytes)  # bounded as outputs
        if not event or retain < 0:
            raise BadRequestError("publish needs an event name and a retain time >= 0")
        return await events.publish(
            self.backend, event, key, data, retain=retain, event_id=event_id
        )

    async def pause(self, run_id: str, reason: str = "") -> None:
        """Pause a running run: no new step starts (running ones finish and record),
        timers that come due wait for ``resume``. ``RunStateError`` if not running."""
        await pausing.pause(self.backend, run_id, reason)

    async def resume(self, run_id: str) -> int:
        """Resume a paused run: what it held runs now. ``RunStateError`` if not paused."""
        return await pausing.resume(self.backend, run_id)

    async def signal(
        self,
        run_id: str,
        name: str,
        data: Any = None,
        *,
        key: str | None = None,
        dedupe: str | None = None,
    ) -> bool:
        """Send signal ``name`` (optionally ``key``ed) with ``data`` to a run.

        Signals of one name queue up: each is kept until a wait consumes it (the
        oldest first), whether or not a step waits for it yet; a step waiting for it
        is woken. ``dedupe`` makes sending idempotent (a second signal with the same
        key is not kept). False if the run has ended or the signal was a duplicate;
        ``PayloadTooLargeError`` if ``data`` is over the value size limit.
        """
        check_payload(data, "signal data", self.limits.output_bytes)
        header = await self.status(run_id)
        if header.status in TERMINAL_STATUSES:
            return False
        store = self.backend.store
        full = signal_name(name, key)
        event = SignalReceived(at=self.backend.clock.now(), name=full, data=data)
        kept = await store.put_signal(run_id, full, data, event, dedupe) is not None
        waiting = await store.get_waiters(run_id, full)
        if waiting:
            await self.backend.bus.publish(waiting)
        return kept
