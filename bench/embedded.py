"""Embedded engine on the peer benchmark's DAG shapes; optionally side by side with
Flowcraft's in-memory runtime (../shared/peer).

    python bench/embedded.py [--sizes 100 1000 5000 20000 100000] [--repeat 3] [--peer]

One JSON line per case: engine, shape, nodes, best_ms, us_per_node (the fields of
the peer's script), then with --peer a table with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import legato

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peer" / "run-flowcraft-inmemory.sh"


async def step(ctx: legato.StepContext) -> int:
    value = ctx.input
    if isinstance(value, dict):  # the join: its predecessors' outputs
        return sum(value.values()) + 1
    return (value if isinstance(value, int) else 0) + 1


def chain(n: int) -> tuple[legato.Registry, int]:
    flow = legato.Flow(f"chain{n}")
    for i in range(n):
        flow.node(f"n{i}", step)
    for i in range(1, n):
        flow.edge(f"n{i - 1}", f"n{i}")
    return legato.compile(flow), n


def fan(width: int) -> tuple[legato.Registry, int]:
    flow = legato.Flow(f"fan{width}").node("src", step).node("join", step)
    for i in range(width):
        flow.node(f"b{i}", step).edge("src", f"b{i}").edge(f"b{i}", "join")
    return legato.compile(flow), width + 2


async def time_run(registry: legato.Registry, repeat: int) -> float:
    best = float("inf")
    for attempt in range(repeat + 1):  # the first run warms up
        async with legato.Engine() as engine:
            engine.start_workers()
            await engine.register(registry)
            gc.collect()
            t0 = time.perf_counter()
            result = await engine.run(registry, 0)
            elapsed = time.perf_counter() - t0
        if result.status != "completed":
            raise SystemExit(f"{registry.id}: {result.status} {result.error}")
        if attempt:
            best = min(best, elapsed)
    return best


def legato_cases(sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for shape, build in (("chain", chain), ("fan", fan)):
        for size in sizes:
            registry, nodes = build(size)
            best = asyncio.run(time_run(registry, repeat))
            row = {
                "engine": "legato",
                "shape": shape,
                "nodes": nodes,
                "best_ms": round(best * 1000, 2),
                "us_per_node": round(best * 1e6 / nodes, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def peer_cases(sizes: list[int]) -> list[dict[str, Any]]:
    if not PEER.exists():
        print(f"peer script not found at {PEER}", file=sys.stderr)
        return []
    proc = subprocess.run(
        ["bash", str(PEER), *map(str, sizes)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        print(f"peer benchmark failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def table(ours: list[dict[str, Any]], peer: list[dict[str, Any]]) -> str:
    theirs = {(r["shape"], r["nodes"]): r for r in peer}
    lines = [
        "| shape | nodes | legato µs/node | flowcraft µs/node | flowcraft / legato |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in ours:
        p = theirs.get((r["shape"], r["nodes"]))
        fc = f"{p['us_per_node']}" if p else "—"
        ratio = f"{p['us_per_node'] / r['us_per_node']:.1f}x" if p else "—"
        lines.append(f"| {r['shape']} | {r['nodes']:,} | {r['us_per_node']} | {fc} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000, 20000, 100000])
    parser.add_argument("--peer-sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peer", action="store_true", help="also run Flowcraft in memory")
    args = parser.parse_args()
    if any(s < 1 for s in args.sizes):
        parser.error("sizes must be positive")
    ours = legato_cases(args.sizes, args.repeat)
    if args.peer:
        print()
        print(table(ours, peer_cases(args.peer_sizes)))


if __name__ == "__main__":
    main()
