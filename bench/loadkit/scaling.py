"""Per-step cost against run length (chains of 10 .. 10,000 nodes) and against the
number of worker processes."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.loadkit.cluster import Cluster
from bench.loadkit.driver import LoadOptions
from bench.loadkit.measure import measure

STEPS_PER_SIZE = 800  # at least this many steps per chain length (short chains: more runs)
IN_FLIGHT = 2  # chains in flight while measuring run length


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def scaling(cluster: Cluster, args: argparse.Namespace, base: LoadOptions) -> dict[str, Any]:
    logs = Path(args.logs)
    by_length = []
    for n in _ints(args.sizes):
        runs = max(IN_FLIGHT, math.ceil(STEPS_PER_SIZE / n))
        opts = replace(base, shape="chain", nodes=n, concurrency=IN_FLIGHT, runs=runs, rate=None)
        print(f"scaling: chain of {n}, {runs} runs, {IN_FLIGHT} in flight", file=sys.stderr)
        rep, _ = measure(cluster, opts, floor_seconds=0, logs=logs)
        by_length.append(rep)
        print(text(by_length, []), file=sys.stderr)
    by_workers = []
    for k in _ints(args.worker_counts):
        opts = replace(base, workers=k, local_concurrency=0, runs=None, rate=None)
        print(f"scaling: {k} worker process(es), {opts.shape} of {opts.nodes}", file=sys.stderr)
        rep, _ = measure(cluster, opts, floor_seconds=0, logs=logs)
        by_workers.append(rep)
        print(text(by_length, by_workers), file=sys.stderr)
    return {"by_length": by_length, "by_workers": by_workers, "text": text(by_length, by_workers)}


def _cost(rep: dict[str, Any]) -> float:
    return 1000 / rep["steps_per_s"] if rep["steps_per_s"] else math.inf


def text(by_length: list[dict[str, Any]], by_workers: list[dict[str, Any]]) -> str:
    lines = [
        f"Per-step cost against run length (chains, {IN_FLIGHT} in flight):",
        "",
        "| nodes | runs | steps | steps/s | ms per step (wall) | CPU ms per step "
        "| hop p50 / p99 ms | x the shortest |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    first = by_length[0] if by_length else None
    for r in by_length:
        rel = _cost(r) / _cost(first) if first else 1.0
        lines.append(
            f"| {r['nodes']:,} | {r['runs']} | {r['steps']:,} | {r['steps_per_s']} "
            f"| {_cost(r):.2f} | {r.get('cpu_ms_per_step', '—')} "
            f"| {r['hop_p50_ms']} / {r['hop_p99_ms']} | {rel:.2f} |"
        )
    lines += [
        "",
        "Against worker processes:",
        "",
        "| worker processes | shape | load | steps/s | CPU ms per step | hop p50 / p99 ms "
        "| x one process |",
        "|---:|---|---|---:|---:|---|---:|",
    ]
    one = by_workers[0]["steps_per_s"] if by_workers else 0
    for r in by_workers:
        rel = r["steps_per_s"] / one if one else 0.0
        lines.append(
            f"| {r['workers']} | {r['shape']} of {r['nodes']} | {r['mode']} | {r['steps_per_s']} "
            f"| {r.get('cpu_ms_per_step', '—')} | {r['hop_p50_ms']} / {r['hop_p99_ms']} "
            f"| {rel:.2f} |"
        )
    return "\n".join(lines)
