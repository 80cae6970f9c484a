"""Foreach throughput: one run whose node runs once per item, embedded and distributed.

    python bench/foreach.py [--items 100,1000,10000] [--window 64] [--concurrency 64]
                            [--embedded-only] [--json]

For each list size, one run of ``src -> each (foreach, max_concurrency=window) ->
total``; prints items/s and the time per item, and how that per-item time compares
with the smallest size (flat cost: the ratio stays near 1). Distributed uses the
LEGATO_* settings, or the ``legato dev`` servers with a fresh keyspace and topics
(dropped afterwards); its workers are this process's engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loadkit, from a clone

import legato
from legato.runtime.ports import Backend


async def src(ctx: legato.StepContext) -> list[int]:
    return list(range(int(ctx.input)))


async def item(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


async def total(ctx: legato.StepContext) -> int:
    return sum(ctx.input)


def blueprint(window: int) -> legato.Registry:
    flow = (
        legato.Flow(f"bench_foreach{window}")
        .node("src", src)
        .node("each", item, foreach={"items": "outputs.src", "max_concurrency": window})
        .node("total", total)
        .edge("src", "each")
        .edge("each", "total")
    )
    return legato.compile(flow)


async def measure(backend: Backend | None, sizes: list[int], args: argparse.Namespace) -> list[Any]:
    engine = legato.Engine(backend, concurrency=args.concurrency) if backend else legato.Engine()
    reg = blueprint(args.window)
    rows = []
    async with engine:
        await engine.register(reg)
        engine.start_workers()
        await engine.run(reg, 10, timeout=120)  # warm-up
        for n in sizes:
            t0 = time.perf_counter()
            result = await engine.run(reg, n, timeout=3600)
            elapsed = time.perf_counter() - t0
            ok = result.status == "completed" and result.outputs.get("total") == n * (n - 1)
            rows.append(
                {
                    "items": n,
                    "ok": ok,
                    "seconds": round(elapsed, 2),
                    "items_per_s": round(n / elapsed, 1),
                    "ms_per_item": round(elapsed / n * 1000, 3),
                }
            )
    base = rows[0]["ms_per_item"] if rows else 0
    for row in rows:
        row["vs_smallest"] = round(row["ms_per_item"] / base, 2) if base else None
    return rows


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.items.split(",")]
    report: dict[str, Any] = {"window": args.window, "embedded": await measure(None, sizes, args)}
    if not args.embedded_only:
        from loadkit.cluster import connect_settings, drop_fresh

        from legato.adapters import open_backend

        cluster = connect_settings(args)
        try:
            backend = await open_backend(cluster.settings)
            try:
                report["distributed"] = await measure(backend, sizes, args)
            finally:
                await backend.close()
        finally:
            drop_fresh(cluster)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", default="100,1000,10000")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--embedded-only", action="store_true")
    parser.add_argument("--config")
    parser.add_argument("--json", action="store_true")
    parsed = parser.parse_args()
    out = asyncio.run(main(parsed))
    if parsed.json:
        print(json.dumps(out))
    else:
        for mode in ("embedded", "distributed"):
            for row in out.get(mode, []):
                print(f"{mode:>11} " + "  ".join(f"{k}={v}" for k, v in row.items()))
