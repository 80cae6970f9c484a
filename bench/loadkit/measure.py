"""One measurement: the load, then the floor (and the peer) in the same invocation."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from bench.loadkit import floor, shapes, stats
from bench.loadkit.cluster import Cluster, start_workers, stop_workers
from bench.loadkit.driver import LoadOptions, run_load
from legato.loop import run as run_loop


def floor_tokens(opts: LoadOptions, rep: dict[str, Any], width: int) -> int:
    """Steps in flight the load allowed: runs in flight (closed loop: ``concurrency``;
    open loop: rate x median run latency, Little's law) x the shape's width, at most
    what the workers take at once."""
    capacity = opts.local_concurrency + opts.workers * opts.worker_concurrency
    if opts.rate is None:
        runs = opts.concurrency
    else:
        runs = max(1, math.ceil(opts.rate * rep["run_p50_ms"] / 1000))
    return max(1, min(capacity, runs * width))


def load_peer() -> Any:
    try:
        from bench import peer_flowcraft
    except ImportError as exc:
        raise SystemExit(
            f"--peer needs bench/peer_flowcraft.py (the Flowcraft Kafka-adapter peer): {exc}"
        ) from None
    return peer_flowcraft


def measure(
    cluster: Cluster,
    opts: LoadOptions,
    *,
    floor_seconds: float = 10.0,
    peer: bool = False,
    logs: Path | None = None,
) -> tuple[dict[str, Any], stats.Histories]:
    """Run the load (with ``opts.workers`` worker processes), then the floor, then the
    peer; returns the report and the histories (for plots)."""
    peer_module = load_peer() if peer else None
    if opts.workers:
        start_workers(cluster, opts.workers, opts.worker_concurrency, logs or Path("/tmp"))
    try:
        reg, hist, errors, cpu = run_loop(run_load(cluster, opts))
    finally:
        stop_workers(cluster)
    info = shapes.describe(reg)
    rep = stats.report(
        hist,
        errors,
        shape=opts.shape,
        nodes=info["nodes"],
        mode=f"open loop {opts.rate}/s" if opts.rate else f"closed loop {opts.concurrency}",
        workers=opts.workers,
        local_concurrency=opts.local_concurrency,
        worker_concurrency=opts.worker_concurrency if opts.workers else 0,
    )
    rep["cpu_ms_per_step"] = round(cpu * 1000 / rep["steps"], 3) if rep["steps"] else None
    rep["floor_steps_per_s"] = rep["floor_ratio"] = None
    if floor_seconds > 0:
        processes = opts.workers + (1 if opts.local_concurrency else 0)
        tokens = floor_tokens(opts, rep, info["width"])
        print(
            f"floor: {processes} process(es), {tokens} steps in flight, {floor_seconds:.0f}s",
            file=sys.stderr,
        )
        steps = floor.plan(opts.shape, opts.nodes)
        rep.update(floor.measure_floor(cluster, steps, max(1, processes), tokens, floor_seconds))
        if rep["floor_steps_per_s"]:
            rep["floor_ratio"] = round(rep["steps_per_s"] / rep["floor_steps_per_s"], 3)
    if peer_module is not None:
        print("peer: Flowcraft Kafka adapter", file=sys.stderr)
        got = peer_module.run_peer(
            opts.shape, opts.nodes, rep["runs"], opts.concurrency, cluster.servers()
        )
        rep["peer"] = got
        rep["peer_steps_per_s"] = got.get("steps_per_s")
        rep["peer_ratio"] = (
            round(rep["steps_per_s"] / got["steps_per_s"], 2) if got.get("steps_per_s") else None
        )
    return rep, hist


COLUMNS = [
    ("shape", "shape"),
    ("nodes", "nodes"),
    ("mode", "load"),
    ("workers", "worker procs"),
    ("steps_per_s", "steps/s"),
    ("runs_per_s", "runs/s"),
    ("hop_p50_ms", "hop p50"),
    ("hop_p90_ms", "p90"),
    ("hop_p99_ms", "p99"),
    ("hop_max_ms", "max ms"),
    ("run_p50_ms", "run p50"),
    ("run_p99_ms", "p99 ms"),
    ("errors", "errors"),
    ("floor_steps_per_s", "floor steps/s"),
    ("floor_ratio", "÷ floor"),
    ("peer_ratio", "x flowcraft"),
]


def table(reports: list[dict[str, Any]]) -> str:
    """Markdown table of reports (bench/README.md takes it as it is)."""
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    rule = "|" + "|".join("---" if k in ("shape", "mode") else "---:" for k, _ in COLUMNS) + "|"
    rows = []
    for r in reports:
        cells = []
        for k, _ in COLUMNS:
            v = r.get(k)
            cells.append("—" if v is None else f"{v:,}" if isinstance(v, int | float) else str(v))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])
