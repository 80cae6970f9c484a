"""librdkafka's noise: a worker whose Kafka brokers are down (a closed port) logs
one warning, not librdkafka's lines on stderr several times a second."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from legato.config import Settings
from legato.logs import configure
from legato.worker import WorkerOptions, run_worker
from tests.servers import unique

pytestmark = pytest.mark.integration


class Counter(logging.Handler):
    """Counts librdkafka's records; sets ``enough`` at ``wanted``."""

    def __init__(self, wanted: int) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.wanted = wanted
        self.loop = asyncio.get_running_loop()
        self.enough = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.count == self.wanted:
            self.loop.call_soon_threadsafe(self.enough.set)


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure("text", "INFO", out)
    yield out
    configure("text", "WARNING")


async def test_a_worker_whose_kafka_is_down_logs_one_warning(
    legato_settings: Settings,
    cassandra_keyspace: str,
    redis_url: str,
    stream: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import legato.worker

    # run_worker gives the process a global tracer provider: not in a test process
    monkeypatch.setattr(legato.worker, "install_tracing", lambda: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = unique("noise")
    settings = Settings.from_urls(
        f"kafka://127.0.0.1:{port}?jobs_topic={name}.jobs&commands_topic={name}.commands"
        f"&deadletter_topic={name}.dlq&group={name}",
        None,
        redis_url,
    )
    assert legato_settings.cassandra is not None and legato_settings.redis is not None
    settings = replace(
        settings,
        cassandra=replace(legato_settings.cassandra, keyspace=cassandra_keyspace),
        redis=replace(legato_settings.redis, prefix=name + ":"),
    )
    counter = Counter(wanted=10)
    logging.getLogger("confluent_kafka").addHandler(counter)
    stop = asyncio.Event()
    try:
        worker = asyncio.create_task(run_worker(settings, WorkerOptions(health_port=None), stop))
        await asyncio.wait_for(counter.enough.wait(), 120)  # librdkafka kept failing
        stop.set()
        assert await asyncio.wait_for(worker, 120) == 0
    finally:
        logging.getLogger("confluent_kafka").removeHandler(counter)
    lines = stream.getvalue().splitlines()
    kafka = [line for line in lines if "Kafka" in line]
    assert len(kafka) == 1, lines
    assert f"WARNING legato.kafka Kafka at 127.0.0.1:{port} unreachable" in kafka[0]
    assert not [line for line in lines if "rdkafka" in line or "FAIL" in line], lines
    assert "rdkafka" not in capfd.readouterr().err  # nothing printed by librdkafka itself
