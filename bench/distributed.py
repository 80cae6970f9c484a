"""A quick load on a distributed deployment (Kafka + Cassandra + Redis): chains and
fans run concurrently by in-process workers; prints steps/s and hop latency.

    python bench/distributed.py [--runs 20] [--shape chain|fan] [--nodes 20]
                                [--concurrency 64] [--json]

Hop latency = a step's start minus its predecessor's completion, read from the
history. Uses LEGATO_* settings, or the `legato dev` servers with a fresh keyspace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import replace
from typing import Any

import legato
from legato.config import KafkaSettings, Settings, settings_from_cli
from legato.schemas import StepCompleted


async def step(ctx: legato.StepContext) -> int:
    value = ctx.input
    if isinstance(value, dict):
        return sum(value.values()) + 1
    return (value if isinstance(value, int) else 0) + 1


def blueprint(shape: str, n: int) -> legato.Registry:
    flow = legato.Flow(f"bench_{shape}{n}")
    if shape == "chain":
        for i in range(n):
            flow.node(f"n{i}", step)
        for i in range(1, n):
            flow.edge(f"n{i - 1}", f"n{i}")
    else:
        flow.node("src", step).node("join", step)
        for i in range(n):
            flow.node(f"b{i}", step).edge("src", f"b{i}").edge(f"b{i}", "join")
    return legato.compile(flow)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from legato import migrations
    from legato.adapters import open_backend
    from legato.adapters.cassandra import connect as cassandra_connect
    from legato.adapters.kafka import apply_topics

    settings = settings_from_cli(args, os.environ)
    if not settings.distributed:  # the dev servers, isolated by fresh names
        name = f"bench_{uuid.uuid4().hex[:8]}"
        kafka = replace(KafkaSettings(), jobs_topic=f"{name}.jobs", group=name, partitions=6)
        settings = Settings.from_urls(
            None, "cassandra://127.0.0.1:9042/" + name, "redis://127.0.0.1:6379/0"
        )
        settings = replace(settings, kafka=kafka)
        apply_topics(kafka)
        cluster, session = cassandra_connect(settings.cassandra)  # type: ignore[arg-type]
        migrations.apply(session, name)
        cluster.shutdown()
    backend = await open_backend(settings)
    engine = legato.Engine(backend, concurrency=args.concurrency)
    reg = blueprint(args.shape, args.nodes)
    await engine.register(reg)
    engine.start_workers()
    await engine.run(reg, 0, timeout=120)  # warm-up
    t0 = time.perf_counter()
    ids = [await engine.start(reg, 0) for _ in range(args.runs)]
    results = [await engine.wait(r, timeout=600) for r in ids]
    elapsed = time.perf_counter() - t0
    hops: list[float] = []
    for rid in ids:
        events = [e for e in await backend.store.history(rid) if isinstance(e, StepCompleted)]
        done_at = {e.step_id: e.at for e in events}
        for e in events:
            preds = reg.nodes[e.node].preds
            if preds:
                hops.append(e.started_at - max(done_at[p] for p in preds))
    await engine.close()
    await backend.close()
    steps = sum(len(r.outputs) for r in results)
    return {
        "shape": args.shape,
        "nodes": len(reg.nodes),
        "runs": args.runs,
        "failed": sum(r.status != "completed" for r in results),
        "steps_per_s": round(steps / elapsed, 1),
        "runs_per_s": round(args.runs / elapsed, 2),
        "hop_p50_ms": round(percentile(hops, 0.5) * 1000, 2),
        "hop_p90_ms": round(percentile(hops, 0.9) * 1000, 2),
        "hop_p99_ms": round(percentile(hops, 0.99) * 1000, 2),
        "hop_max_ms": round(max(hops, default=0) * 1000, 2),
        "hop_mean_ms": round(statistics.fmean(hops) * 1000, 2) if hops else 0.0,
        "seconds": round(elapsed, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--shape", choices=["chain", "fan"], default="chain")
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--config")
    parser.add_argument("--json", action="store_true")
    report = asyncio.run(main(parser.parse_args()))
    print(
        json.dumps(report)
        if parser.parse_args().json
        else "\n".join(f"{k:>12}: {v}" for k, v in report.items())
    )
