"""bench/load.py on the real servers at a tiny size: its JSON report is whole and
agrees with itself (counts, rates, ratios, percentile order). Timings are not
asserted (they belong to bench/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings
from tests.servers import cassandra_url, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FIELDS = [
    "steps_per_s",
    "runs_per_s",
    "hop_p50_ms",
    "hop_p90_ms",
    "hop_p99_ms",
    "hop_max_ms",
    "run_p50_ms",
    "run_p99_ms",
    "errors",
    "floor_steps_per_s",
    "floor_ratio",
]


@pytest.fixture(scope="module")
def env(
    kafka_bootstrap: str, cassandra_keyspace: str, redis_url: str, legato_settings: Any
) -> dict[str, str]:
    name = unique("load")
    kafka_url = (
        f"kafka://{kafka_bootstrap}?jobs_topic={name}.jobs&commands_topic={name}.cmd"
        f"&deadletter_topic={name}.dlq&group={name}&partitions=3"
    )
    apply_topics(KafkaSettings.from_url(kafka_url))
    return {
        **os.environ,
        "LEGATO_KAFKA": kafka_url,
        "LEGATO_CASSANDRA": cassandra_url(legato_settings.cassandra, cassandra_keyspace),
        "LEGATO_REDIS": redis_url,
    }


def load(env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "bench/load.py", "--json", "--quiet", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    report: dict[str, Any] = json.loads(line)
    return report


def test_report_agrees_with_itself(env: dict[str, str]) -> None:
    # 4-node diamonds: d0 -> l1, r1 -> d1 (a join), so hops include a join's.
    runs = 6
    r = load(
        env,
        "--shape",
        "diamond",
        "--nodes",
        "4",
        "--runs",
        str(runs),
        "--concurrency",
        "3",
        "--local-concurrency",
        "8",
        "--floor-seconds",
        "2",
    )
    for name in FIELDS:
        assert name in r, name
    assert r["nodes"] == 4 and r["runs"] == runs and r["completed"] == runs and r["errors"] == 0
    assert r["steps"] == runs * 4
    assert r["hops"] == runs * 3  # every node but the start has a hop
    assert r["steps_per_s"] == pytest.approx(r["steps"] / r["seconds"], rel=0.01)
    assert r["runs_per_s"] == pytest.approx(runs / r["seconds"], rel=0.01)
    assert 0 < r["hop_p50_ms"] <= r["hop_p90_ms"] <= r["hop_p99_ms"] <= r["hop_max_ms"]
    assert 0 < r["run_p50_ms"] <= r["run_p99_ms"]
    assert r["run_p99_ms"] < r["seconds"] * 1000
    assert r["floor_steps_per_s"] > 0
    assert r["floor_ratio"] == pytest.approx(r["steps_per_s"] / r["floor_steps_per_s"], rel=0.01)
