"""Driver log noise: a worker that cannot reach a server logs one warning per
outage and one line when it is back, not the drivers' tracebacks on every
reconnect try; ``--log-level debug`` shows all of it."""

from __future__ import annotations

import asyncio
import io
import socket
from typing import Any

import pytest

import legato.worker
from legato.adapters.memory import memory_backend
from legato.config import Settings
from legato.logs import configure
from legato.worker import WorkerOptions, open_with_backoff, run_worker


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable() -> Settings:
    port = closed_port()
    return Settings.from_urls(
        f"kafka://127.0.0.1:{port}",
        f"cassandra://127.0.0.1:{port}/nowhere",
        f"redis://127.0.0.1:{port}/0",
    )


def counting_opens(
    monkeypatch: pytest.MonkeyPatch, stop: asyncio.Event, tries: int, then: Any = None
) -> list[int]:
    """Count connection attempts (real ones, to the closed port); after ``tries`` of
    them, stop the worker, or return ``then`` as the backend."""
    real = legato.worker.open_backend
    count: list[int] = []

    async def opening(settings: Settings) -> Any:
        count.append(1)
        if len(count) > tries and then is not None:
            return then
        if len(count) == tries and then is None:
            stop.set()
        return await real(settings)

    monkeypatch.setattr(legato.worker, "open_backend", opening)
    # run_worker gives the process a global tracer provider: not in a test process
    monkeypatch.setattr(legato.worker, "install_tracing", lambda: None)
    return count


@pytest.fixture
def logged() -> Any:
    streams: list[io.StringIO] = []

    def start(level: str) -> io.StringIO:
        stream = io.StringIO()
        configure("text", level, stream)
        streams.append(stream)
        return stream

    yield start
    configure("text", "WARNING")  # let go of the test's stream


async def test_a_worker_that_cannot_reach_cassandra_logs_one_line(
    monkeypatch: pytest.MonkeyPatch, logged: Any
) -> None:
    stream = logged("INFO")
    stop = asyncio.Event()
    tries = counting_opens(monkeypatch, stop, 3)
    assert await run_worker(unreachable(), WorkerOptions(health_port=None), stop) == 0
    assert len(tries) == 3
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "WARNING legato.worker servers unreachable" in lines[0]
    assert "Cassandra at 127.0.0.1" in lines[0] and "Connection refused" in lines[0]
    assert "retries are logged at --log-level debug" in lines[0]


async def test_debug_level_shows_the_drivers_detail(
    monkeypatch: pytest.MonkeyPatch, logged: Any
) -> None:
    stream = logged("DEBUG")
    stop = asyncio.Event()
    counting_opens(monkeypatch, stop, 2)
    await run_worker(unreachable(), WorkerOptions(health_port=None), stop)
    text = stream.getvalue()
    assert "cassandra.cluster" in text and "Traceback" in text
    assert "servers still unreachable" in text


async def test_the_recovery_is_one_line(monkeypatch: pytest.MonkeyPatch, logged: Any) -> None:
    stream = logged("INFO")
    stop = asyncio.Event()
    backend = memory_backend()
    counting_opens(monkeypatch, stop, 3, then=backend)
    assert await open_with_backoff(unreachable(), stop, initial=0.01) is backend
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "servers unreachable" in lines[0]
    assert "INFO legato.worker servers reachable again after" in lines[1]
    assert lines[1].endswith("(3 failed tries)")
    await backend.close()


def test_kafka_errors_are_one_outage_and_other_errors_their_own_line(logged: Any) -> None:
    from confluent_kafka import KafkaError

    from legato.adapters.kafka.driverlog import KafkaHealth

    stream = logged("INFO")
    health = KafkaHealth("b1:9092")
    for _ in range(5):
        health.error(KafkaError(KafkaError._TRANSPORT, "b1:9092/bootstrap: Connection refused"))
    health.error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    health.error(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Subscribed topic not available"))
    health.answered()
    health.answered()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "WARNING legato.kafka Kafka at b1:9092 unreachable: b1:9092/bootstrap" in lines[0]
    assert lines[1].endswith("WARNING legato.kafka Kafka: Subscribed topic not available")
    assert "INFO legato.kafka Kafka at b1:9092 reachable again after" in lines[2]
    assert lines[2].endswith("(6 failed tries)")
