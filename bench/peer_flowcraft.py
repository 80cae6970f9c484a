"""Flowcraft's Kafka adapter on the load shapes, for `bench/load.py --peer`.

    python bench/peer_flowcraft.py chain 20 --runs 100 --concurrency 16

`run_peer()` runs bench/peer/run-flowcraft-kafka.sh (which installs
@flowcraft/kafka-adapter 1.4.4 and its clients from npm into a cache folder once,
then runs bench/peer/flowcraft-kafka.mjs) against the given servers, in a fresh
topic and keyspace, and returns its report: steps_per_s, runs_per_s, hop and run
latency percentiles, completed, errors, defects (lost or duplicated steps, joins
firing twice, runs that never finished, ...). See bench/peer/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parent / "peer" / "run-flowcraft-kafka.sh"
DEFAULT_SERVERS = {
    "kafka": "127.0.0.1:9092",
    "cassandra": "127.0.0.1:9042",
    "redis": "127.0.0.1:6379",
}
SHAPES = ("chain", "fan", "diamond", "wide", "etl")


def host_port(address: str) -> str:
    """'host:port' from 'host:port' or a URL such as 'redis://host:port/0'."""
    rest = address.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1]


def run_peer(
    shape: str,
    nodes: int,
    runs: int,
    concurrency: int,
    servers: dict[str, str],
    *,
    workers: int = 6,
    run_timeout: float = 120.0,
    timeout: float | None = 3600.0,
) -> dict[str, Any]:
    """Run `runs` runs of `shape` closed-loop at `concurrency` on Flowcraft's Kafka
    adapter (`workers` KafkaAdapter consumers in one Node process) and return the
    report. servers: {"kafka": "host:port", "cassandra": "host:port", "redis": "host:port"}.
    Raises RuntimeError if the script fails or prints no report."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    addr = {k: host_port(servers.get(k, v)) for k, v in DEFAULT_SERVERS.items()}
    cmd = [
        "bash",
        str(SCRIPT),
        *("--shape", shape, "--nodes", str(nodes), "--runs", str(runs)),
        *("--concurrency", str(concurrency), "--workers", str(workers)),
        *("--run-timeout", str(run_timeout)),
        *("--kafka", addr["kafka"], "--cassandra", addr["cassandra"], "--redis", addr["redis"]),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise RuntimeError(f"cannot run the peer ({exc}); it needs bash, node and npm") from exc
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"flowcraft peer failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shape", choices=SHAPES)
    parser.add_argument("nodes", type=int)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=6)
    for name, default in DEFAULT_SERVERS.items():
        parser.add_argument(f"--{name}", default=default, help=f"host:port (default {default})")
    args = parser.parse_args()
    servers = {k: getattr(args, k) for k in DEFAULT_SERVERS}
    try:
        report = run_peer(
            args.shape, args.nodes, args.runs, args.concurrency, servers, workers=args.workers
        )
    except RuntimeError as exc:
        sys.exit(str(exc))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
