"""A worker process's /metrics after known runs (exact counts), and its JSON log lines:
step fields and trace ids, and no password anywhere."""

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
from prometheus_client.parser import text_string_to_metric_families

from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings
from tests.integration.test_workers import free_port, ready
from tests.servers import unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "pw-" + unique("s")[2:]  # in the Cassandra URL and in a node's log message
NODES = "tests.integration.ops_nodes"
SHAPE = f"""
# begin -> left (taken) | right (skipped) -> merge (a join) -> flaky (one retry)
id: ops_shape
version: 1
nodes:
  - {{id: begin, uses: "{NODES}:begin"}}
  - {{id: left, uses: "{NODES}:one"}}
  - {{id: right, uses: "{NODES}:one"}}
  - {{id: merge, uses: "{NODES}:one"}}
  - id: flaky
    uses: "{NODES}:flaky"
    config: {{retry: {{max_attempts: 3, initial_delay: 0.05, multiplier: 1, jitter: 0}}}}
edges:
  - {{source: begin, target: left, action: left}}
  - {{source: begin, target: right, action: right}}
  - {{source: left, target: merge}}
  - {{source: right, target: merge}}
  - {{source: merge, target: flaky}}
"""
BAD = f"""
id: ops_bad
version: 1
nodes:
  - {{id: x, uses: "{NODES}:broken"}}
"""


@pytest.fixture(scope="module")
def env(
    kafka_bootstrap: str, cassandra_keyspace: str, redis_url: str, legato_settings: Any
) -> dict[str, str]:
    name = unique("ops")
    query = (
        f"jobs_topic={name}.jobs&commands_topic={name}.cmd&deadletter_topic={name}.dlq"
        f"&group={name}&partitions=2"
    )
    kafka_url = f"kafka://{kafka_bootstrap}?{query}"
    apply_topics(KafkaSettings.from_url(kafka_url))
    cassandra = legato_settings.cassandra
    if cassandra.username:  # a server with authentication: its own credentials
        auth = f"{cassandra.username}:{cassandra.password or ''}"
    else:  # the driver only warns that the server did not ask for them
        auth = f"legato:{SECRET}"
    hosts = ",".join(cassandra.hosts)
    return {
        **os.environ,
        "LEGATO_KAFKA": kafka_url,
        "LEGATO_CASSANDRA": f"cassandra://{auth}@{hosts}:{cassandra.port}/{cassandra_keyspace}",
        "LEGATO_REDIS": redis_url,
        "LEGATO_LOG_FORMAT": "json",
        "OPS_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="module")
def worker(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    log_path = tmp_path_factory.mktemp("ops") / "worker.log"
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "legato", "worker", "--import", NODES),
                *("--concurrency", "4", "--health-port", str(port), "--log-level", "INFO"),
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while not ready(port):
        assert time.monotonic() < deadline, log_path.read_text()
        assert proc.poll() is None, log_path.read_text()
        time.sleep(0.2)
    yield proc, port, log_path
    if proc.poll() is None:
        proc.kill()


def start(env: dict[str, str], path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "legato", "start", str(path), "--wait", "--timeout", "60"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@pytest.fixture(scope="module")
def runs(
    env: dict[str, str],
    worker: tuple[subprocess.Popen[bytes], int, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two runs both tests look at: one completes, one fails."""
    folder = tmp_path_factory.mktemp("blueprints")
    (folder / "shape.yaml").write_text(SHAPE)
    (folder / "bad.yaml").write_text(BAD)
    return start(env, folder / "shape.yaml"), start(env, folder / "bad.yaml")


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: Any) -> float:
    want = {k: str(v) for k, v in labels.items()}
    return sum(v for got, v in found.get(name, []) if want.items() <= got.items())


def test_metrics_after_known_runs(
    env: dict[str, str],
    worker: tuple[subprocess.Popen[bytes], int, Path],
    runs: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, port, _ = worker
    ok, bad = runs
    assert (ok["status"], ok["outputs"]["flaky"]) == ("completed", 2)
    assert bad["status"] == "failed"
    kafka = KafkaSettings.from_url(env["LEGATO_KAFKA"])
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    producer.produce(kafka.jobs_topic, b"not a job", b"k")
    producer.flush(10)

    deadline = time.monotonic() + 60
    while True:  # the dead letter, and lag measured on both partitions after the last fetch
        found = scrape(port)
        lag = found.get("legato_consumer_lag", [])
        jobs_lag = [v for labels, v in lag if labels["topic"] == kafka.jobs_topic]
        if total(found, "legato_deadlettered_messages_total") and jobs_lag == [0, 0]:
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.3)

    shape = {"blueprint": "ops_shape"}
    assert total(found, "legato_steps_started_total", **shape) == 5  # begin left merge flaky*2
    assert total(found, "legato_steps_started_total", node="flaky") == 2
    assert total(found, "legato_steps_completed_total", **shape) == 4
    assert total(found, "legato_steps_retried_total", node="flaky") == 1
    assert total(found, "legato_steps_retried_total") == 1
    assert total(found, "legato_steps_skipped_total", node="right") == 1
    assert total(found, "legato_steps_skipped_total") == 1
    assert total(found, "legato_joins_fired_total", node="merge") == 1
    assert total(found, "legato_joins_fired_total") == 1
    assert total(found, "legato_steps_failed_total", blueprint="ops_bad", node="x") == 1
    assert total(found, "legato_steps_failed_total") == 1
    assert total(found, "legato_steps_started_total") == 6
    assert total(found, "legato_timers_fired_total") == 1  # the retry, from Cassandra
    assert total(found, "legato_step_duration_seconds_count", node="flaky") == 2
    assert total(found, "legato_step_duration_seconds_count", outcome="failed") == 2
    assert total(found, "legato_step_duration_seconds_count") == 6
    assert total(found, "legato_deadlettered_messages_total", topic=kafka.jobs_topic) == 1
    assert total(found, "legato_steps_in_flight") == 0
    assert {labels["partition"] for labels, _ in lag if labels["topic"] == kafka.jobs_topic} == {
        "0",
        "1",
    }


def test_json_logs_name_the_step_and_hide_the_password(
    worker: tuple[subprocess.Popen[bytes], int, Path],
    runs: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    proc, _, log_path = worker
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    raw = log_path.read_text()
    assert SECRET not in raw
    entries = []
    for line in raw.splitlines():
        if line.startswith("%"):  # librdkafka writes its own lines to stderr
            continue
        entries.append(json.loads(line))  # every other line is a JSON object
    assert {"ts", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("worker ready") for e in entries)
    calls = [e for e in entries if e["logger"] == "ops_nodes"]
    assert [(e["node"], e["step_id"], e["attempt"]) for e in calls] == [
        ("flaky", "flaky", 1),
        ("flaky", "flaky", 2),
    ]
    assert {e["run_id"] for e in calls} == {runs[0]["run_id"]}
    assert all(len(e["trace_id"]) == 32 and len(e["span_id"]) == 16 for e in calls)
    assert calls[0]["message"] == "calling https://svc:***@api.example/v1 (attempt 1)"


def test_reconciler_loop_serves_its_pass_stats(
    env: dict[str, str], runs: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "legato", "reconcile", "--loop", "--interval", "1h"),
            *("--stalled-after", "0s", "--metrics-port", str(port)),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        stats = json.loads(proc.stdout.readline())  # the first (and, within 1h, only) pass
        found = scrape(port)
    finally:
        proc.terminate()
        proc.wait(30)
    for name, value in stats.items():
        assert total(found, f"legato_reconciler_{name}_total") == value, name
