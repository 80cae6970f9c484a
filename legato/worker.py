"""A worker process: consumes jobs and commands, serves health probes, drains on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from legato.config import Settings
from legato.distributed import Distributed, connect
from legato.runtime.engine import Engine
from legato.runtime.errors import BackendUnavailableError, LegatoError
from legato.schemas.commands import CancelRun, Command, SendSignal, StartRun
from legato.telemetry import MetricsPage, install_metrics, install_tracing

log = logging.getLogger("legato.worker")
_decode_command = msgspec.json.Decoder(Command).decode  # type: ignore[arg-type]


@dataclass
class WorkerOptions:
    concurrency: int = 64
    health_port: int | None = 8080
    drain_timeout: float = 30.0
    lease_ttl: float = 30.0  # a dead worker's step runs again after this long
    heartbeat_interval: float = 5.0


async def connect_with_backoff(settings: Settings, stop: asyncio.Event) -> Distributed | None:
    """Connect, waiting out servers that are not up yet; None if stopped meanwhile."""
    delay = 0.5
    while not stop.is_set():
        try:
            return await connect(settings)
        except BackendUnavailableError as exc:
            log.warning("servers not reachable, retrying in %.1fs: %s", delay, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay * (0.5 + random.random()))
            delay = min(delay * 2, 30.0)
    return None


async def handle_command(engine: Engine, command: Any) -> None:
    match command:
        case StartRun():
            await engine.start_registered(
                command.blueprint, command.version, command.input, run_id=command.run_id
            )
        case SendSignal():
            await engine.signal(command.run_id, command.name, command.data, key=command.key)
        case CancelRun():
            await engine.cancel(command.run_id, command.reason)


async def consume_commands(engine: Engine, bus: Any) -> None:
    async for delivery in bus.consume():
        try:
            await handle_command(engine, delivery.job)
        except LegatoError as exc:  # unknown run or blueprint: say so, keep going
            log.error("command %r refused: %s", delivery.job, exc)
        await delivery.ack()


async def serve_health(
    port: int, ready: Callable[[], Awaitable[str | None]], metrics: MetricsPage | None = None
) -> asyncio.Server:
    """``/healthz``: 200 while the process runs. ``/readyz``: 200 when ``ready()``
    returns None, else 503 with its reason. ``/metrics``: the Prometheus text
    exposition of ``metrics``, if given."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode("latin-1")
            path = line.split(" ")[1] if line.count(" ") >= 2 else ""
            content_type = "text/plain; charset=utf-8"
            if path == "/healthz":
                status, data = "200 OK", b"ok"
            elif path == "/metrics" and metrics is not None:
                status, data, content_type = "200 OK", metrics.render(), metrics.content_type
            elif path == "/readyz":
                problem = await ready()
                status, data = (
                    ("200 OK", b"ready")
                    if problem is None
                    else ("503 Service Unavailable", f"not ready: {problem}".encode())
                )
            else:
                status, data = "404 Not Found", b"not found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "0.0.0.0", port)


class Readiness:
    """Whether the worker takes jobs and reaches all three servers (probed at most
    once per ``interval`` seconds, so frequent probes cost the servers nothing)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.dist: Distributed | None = None
        self.draining = False
        self._checked = -1e9
        self._problem: str | None = "connecting to the servers"

    async def __call__(self) -> str | None:
        if self.draining:
            return "draining"
        if self.dist is None:
            return "connecting to the servers"
        now = asyncio.get_running_loop().time()
        if now - self._checked >= self.interval:
            self._checked = now
            problems = await self.dist.probe()
            self._problem = "; ".join(f"{k}: {v}" for k, v in sorted(problems.items())) or None
        return self._problem


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
        server = await serve_health(options.health_port, readiness, install_metrics())
    dist = await connect_with_backoff(settings, stop)
    if dist is None:
        return 0
    from legato.adapters.kafka import KafkaJobBus

    assert settings.kafka is not None
    engine = Engine(
        dist.backend,
        concurrency=options.concurrency,
        lease_ttl=options.lease_ttl,
        heartbeat_interval=options.heartbeat_interval,
    )
    engine.start_workers()
    commands = KafkaJobBus(
        settings.kafka,
        topic=settings.kafka.commands_topic,
        group=settings.kafka.group + ".commands",
        max_in_flight=64,
        decode=_decode_command,
    )
    command_task = asyncio.create_task(consume_commands(engine, commands))
    readiness.dist = dist
    log.info("worker ready (concurrency %d)", options.concurrency)
    await stop.wait()
    readiness.draining = True
    log.info("draining: finishing %d job(s) in hand", engine.busy)
    commands.pause()
    drained = await engine.drain(options.drain_timeout)
    command_task.cancel()
    await asyncio.gather(command_task, return_exceptions=True)
    await commands.close()
    await dist.close()
    if server is not None:
        server.close()
    if not drained:
        log.warning("drain timed out; unfinished jobs will be redelivered")
    return 0
