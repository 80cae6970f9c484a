"""Worker processes share the load of runs; the CLI and the JSON commands topic
steer runs; SIGTERM drains a worker and it exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings
from tests.servers import cassandra_url, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def env(
    kafka_bootstrap: str, cassandra_keyspace: str, redis_url: str, legato_settings: Any
) -> dict[str, str]:
    name = unique("w")
    query = (
        f"jobs_topic={name}.jobs&commands_topic={name}.cmd&deadletter_topic={name}.dlq"
        f"&group={name}&partitions=4"
    )
    kafka_url = f"kafka://{kafka_bootstrap}?{query}"
    apply_topics(KafkaSettings.from_url(kafka_url))
    return {
        **os.environ,
        "LEGATO_KAFKA": kafka_url,
        "LEGATO_CASSANDRA": cassandra_url(legato_settings.cassandra, cassandra_keyspace),
        "LEGATO_REDIS": redis_url,
        "PYTHONPATH": str(EXAMPLES),
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def workers(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    logs = tmp_path_factory.mktemp("workers")
    procs = []
    for i in range(2):
        port = free_port()
        log = (logs / f"worker{i}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "legato",
                "worker",
                "--import",
                "nodes",
                "--concurrency",
                "8",
                "--health-port",
                str(port),
                "--drain-timeout",
                "20",
            ],
            env=env,
            cwd=EXAMPLES,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append((proc, port))
    deadline = time.monotonic() + 60
    while not all(ready(p) for _, p in procs):
        assert time.monotonic() < deadline, "workers never became ready"
        assert all(p.poll() is None for p, _ in procs), "a worker exited"
        time.sleep(0.2)
    yield procs
    for proc, _ in procs:
        if proc.poll() is None:
            proc.kill()


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "legato", *args],
        env=env,
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, lines[0] if len(lines) == 1 else lines


def test_health_endpoints(workers: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    _, port = workers[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
        assert (r.status, r.read()) == (200, b"ok")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
        assert (r.status, r.read()) == (200, b"ready")  # all three servers answer


def test_start_wait_status_history(
    env: dict[str, str], workers: list[tuple[subprocess.Popen[bytes], int]]
) -> None:
    code, out = cli(env, "start", "etl.yaml", "--wait", "--timeout", "60")
    assert code == 0
    assert out["status"] == "completed"
    assert out["outputs"]["load"] == {"rows": 3, "attempt": 2}
    code, header = cli(env, "status", "--json", out["run_id"])
    assert header["status"] == "completed"
    code, events = cli(env, "history", "--json", out["run_id"])
    types = [e["type"] for e in events]
    assert (types[0], types[-1]) == ("run_started", "run_completed")
    assert sum(1 for e in events if e["type"] == "step_failed") == 1  # the retried load


def test_two_workers_share_a_load(
    env: dict[str, str], workers: list[tuple[subprocess.Popen[bytes], int]]
) -> None:
    _, first = cli(env, "start", "loop.yaml", "--input", '{"upto": 3}')
    ids = [first["run_id"]]
    for _ in range(15):
        ids.append(
            cli(env, "start", "loop", "--blueprint-version", "1", "--input", '{"upto": 5}')[1][
                "run_id"
            ]
        )
    seen_workers = set()
    for rid in ids:
        deadline = time.monotonic() + 60
        while (status := cli(env, "status", "--json", rid)[1]["status"]) == "running":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert status == "completed"
        events = cli(env, "history", "--json", rid)[1]
        seen_workers |= {
            e["worker"] for e in events if e["type"] == "step_completed" and e.get("worker")
        }
    assert len(seen_workers) == 2


def test_json_command_signals_a_waiting_run(
    env: dict[str, str], workers: list[tuple[subprocess.Popen[bytes], int]]
) -> None:
    # A longer wait than the example's, so the signal arrives in time.
    bp = Path(EXAMPLES / "approval.yaml").read_text().replace("timeout: 2,", "timeout: 60,")
    path = EXAMPLES.parent / "tests" / "integration" / "_approval_long.yaml"
    path.write_text(bp.replace("id: approval", "id: approval_long"))
    try:
        _, out = cli(env, "start", str(path), "--input", '{"amount": 3}')
    finally:
        path.unlink()
    rid = out["run_id"]
    kafka = KafkaSettings.from_url(env["LEGATO_KAFKA"])
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    command = {
        "type": "signal",
        "run_id": rid,
        "name": "approval",
        "data": {"approved": True, "by": "ops"},
    }
    producer.produce(kafka.commands_topic, json.dumps(command).encode(), rid.encode())
    producer.flush(10)
    deadline = time.monotonic() + 60
    while (header := cli(env, "status", "--json", rid)[1])["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert header["status"] == "completed"
    steps = {
        e["step_id"]: e
        for e in cli(env, "history", "--json", rid)[1]
        if e["type"] == "step_completed"
    }
    assert steps["wait"]["output"] == {"approved": True, "by": "ops"}
    assert steps["archive"]["output"] == "approved"


def test_sigterm_drains_and_exits_0(workers: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for proc, _ in workers:
        proc.send_signal(signal.SIGTERM)
    for proc, _ in workers:
        assert proc.wait(timeout=60) == 0
