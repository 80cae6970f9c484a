"""A worker process: consumes jobs and commands, serves health probes, drains on SIGTERM.

Probes (on ``--health-port``):

- ``/healthz``: 200 while the process runs (liveness: a server outage never
  restarts workers).
- ``/readyz``: 200 once this worker is connected and consuming, until it drains;
  503 with the reason otherwise. A shared server being down is *not* a reason:
  every worker would turn unready at once and a PodDisruptionBudget would then
  block every rollout, while the workers wait the outage out by themselves.
- ``/status``: JSON with each server's state (what is down and why), the jobs in
  hand and whether the worker drains.
- ``/metrics``: Prometheus text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from legato.adapters import open_backend
from legato.adapters.settings import Settings
from legato.commands import consume_commands
from legato.presence import Presence
from legato.reconciler.repair import RepairWatch
from legato.runtime.engine import Engine
from legato.runtime.errors import BackendUnavailableError, ConfigError
from legato.runtime.outages import Outage
from legato.runtime.ports import Backend
from legato.runtime.worker import WorkerSettings
from legato.telemetry import MetricsPage, install_metrics, install_tracing

log = logging.getLogger("legato.worker")


@dataclass
class WorkerOptions:
    concurrency: int = 64
    health_port: int | None = 8080
    drain_timeout: float = 30.0
    lease_ttl: float = 10.0  # a dead worker's step runs again after this long
    heartbeat_interval: float | None = None  # default: a quarter of the lease


async def open_with_backoff(
    settings: Settings, stop: asyncio.Event, initial: float = 0.5
) -> Backend | None:
    """Connect, waiting out servers that are not up yet (one warning, then the
    retries at debug level); None if stopped meanwhile."""
    delay = initial
    outage = Outage(log, "servers")
    while not stop.is_set():
        try:
            backend = await open_backend(settings)
        except BackendUnavailableError as exc:
            pause = delay * (0.5 + random.random())
            outage.failed(exc, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            delay = min(delay * 2, 30.0)
        else:
            outage.recovered()
            return backend
    return None


Page = tuple[str, str, bytes]  # status line, content type, body


class PortInUseError(ConfigError):
    """A port to listen on is taken: two workers on one machine need two ports."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on port {port} ({reason})")
        self.port, self.reason = port, reason


async def serve_health(
    port: int,
    ready: Callable[[], Awaitable[str | None]],
    metrics: MetricsPage | None = None,
    status: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    host: str = "0.0.0.0",
) -> asyncio.Server:
    """``/healthz``, ``/readyz`` (200 when ``ready()`` returns None, else 503 with its
    reason), ``/status`` (``status()`` as JSON) and ``/metrics``.

    Raises:
        PortInUseError: the port is taken (or may not be listened on).
    """

    async def page(path: str) -> Page:
        text = "text/plain; charset=utf-8"
        if path == "/healthz":
            return "200 OK", text, b"ok"
        if path == "/metrics" and metrics is not None:
            return "200 OK", metrics.content_type, metrics.render()
        if path == "/readyz":
            problem = await ready()
            if problem is None:
                return "200 OK", text, b"ready"
            return "503 Service Unavailable", text, f"not ready: {problem}".encode()
        if path == "/status" and status is not None:
            return "200 OK", "application/json", json.dumps(await status()).encode()
        return "404 Not Found", text, b"not found"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1")
            path = line.split(" ")[1] if line.count(" ") >= 2 else ""
            code, content_type, data = await page(path)
            writer.write(
                f"HTTP/1.1 {code}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(handle, host, port)
    except OSError as exc:
        raise PortInUseError(port, exc.strerror or str(exc)) from exc


class Readiness:
    """Whether this worker takes jobs: connected, consuming, not draining. The
    servers' state is reported by ``status`` (probed at most once per ``interval``
    seconds, so frequent probes cost the servers nothing)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.backend: Backend | None = None
        self.engine: Engine | None = None
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.draining = False
        self._checked = -1e9
        self._servers: dict[str, str] = {}

    async def __call__(self) -> str | None:
        if self.draining:
            return "draining"
        if self.backend is None:
            return "connecting to the servers"
        if self.engine is not None and not self.engine.worker.running:
            return "not consuming jobs"
        for name, task in self.tasks.items():
            if task.done():
                return f"the {name} consumer stopped"
        return None

    async def servers(self) -> dict[str, str]:
        """``{part: problem}`` of the servers that do not answer now."""
        if self.backend is None:
            return {"backend": "not connected yet"}
        now = asyncio.get_running_loop().time()
        if now - self._checked >= self.interval:
            self._checked = now
            self._servers = await self.backend.probe()
        return self._servers

    async def status(self) -> dict[str, Any]:
        return {
            "ready": await self() is None,
            "draining": self.draining,
            "busy": self.engine.busy if self.engine is not None else 0,
            "servers": await self.servers(),
        }


async def run_worker(
    settings: Settings, options: WorkerOptions, stop: asyncio.Event | None = None
) -> int:
    """Work until SIGTERM/SIGINT (or ``stop``); exit code 0 after a clean drain."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    readiness = Readiness()
    server = None
    install_tracing()
    if options.health_port is not None:
        server = await serve_health(
            options.health_port, readiness, install_metrics(), readiness.status
        )
    backend = await open_with_backoff(settings, stop)
    if backend is None:
        return 0
    from legato.adapters.kafka.bus import KafkaJobBus
    from legato.schemas.commands import decode_command

    assert settings.kafka is not None
    engine = Engine(
        backend,
        settings=WorkerSettings(
            concurrency=options.concurrency,
            lease_ttl=options.lease_ttl,
            heartbeat_interval=options.heartbeat_interval,
            limits=settings.limits,
        ),
        owns_backend=True,
    )
    engine.start_workers()
    commands = KafkaJobBus(
        settings.kafka,
        topic=settings.kafka.commands_topic,
        group=settings.kafka.group + ".commands",
        max_in_flight=64,
        decode=decode_command,
    )
    readiness.tasks["commands"] = asyncio.create_task(
        consume_commands(engine.control, commands, backend.clock)
    )
    repair = RepairWatch(backend, engine.ending, delay=options.lease_ttl, limits=settings.limits)
    readiness.tasks["repair"] = asyncio.create_task(repair.watch())
    readiness.backend, readiness.engine = backend, engine
    presence = Presence(
        backend.coordinator, engine.worker, (settings.kafka.jobs_topic, commands.topic)
    )
    presence.start()
    log.info("worker ready (concurrency %d, id %s)", options.concurrency, engine.worker.worker_id)
    await stop.wait()
    readiness.draining = True
    await presence.stop()
    log.info("draining: finishing %d job(s) in hand", engine.busy)
    commands.pause()
    drained = await engine.drain(options.drain_timeout)
    for task in readiness.tasks.values():
        task.cancel()
    await asyncio.gather(*readiness.tasks.values(), return_exceptions=True)
    await commands.close()
    if server is not None:
        server.close()
    if not drained:
        log.warning("drain timed out; unfinished jobs will be redelivered")
    return 0
