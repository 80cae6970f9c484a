"""Event fan-out: one publish to N waiting runs, time until all of them resumed.

    python bench/events.py [--runs 1000] [--distributed] [--concurrency 64]

Each run is one `legato.wait_for_event` step (key = the run input) then an echo
step; the clock starts at `publish` and stops when every run has completed.
`--distributed` uses LEGATO_* settings, or the `legato dev` servers with a fresh
keyspace and topics (as bench/distributed.py); workers run in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from dataclasses import replace
from typing import Any

import legato
from legato.config import KafkaSettings, Settings, settings_from_cli


async def echo(ctx: legato.StepContext) -> Any:
    return ctx.input


def blueprint() -> legato.Registry:
    return legato.compile(
        legato.Flow("bench_events")
        .node(
            "wait",
            "legato.wait_for_event",
            params={"event": "bench", "key": "input"},
        )
        .node("after", echo)
        .edge("wait", "after")
    )


async def distributed_backend() -> Any:
    from legato import migrations
    from legato.adapters import open_backend
    from legato.adapters.cassandra import connect as cassandra_connect
    from legato.adapters.kafka import apply_topics

    settings = settings_from_cli(argparse.Namespace(config=None), os.environ)
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
    return await open_backend(settings)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    if args.distributed:
        backend = await distributed_backend()
    else:
        from legato.adapters.memory import memory_backend

        backend = memory_backend()
    engine = legato.Engine(backend, concurrency=args.concurrency)
    reg = blueprint()
    await engine.register(reg)
    engine.start_workers()
    key = f"k{time.time_ns()}"
    ids = [await engine.start(reg, key) for _ in range(args.runs)]
    for _ in range(100_000):  # until every run waits
        if len(await backend.store.event_waiters("bench", key)) >= args.runs:
            break
        await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    delivered = await engine.publish("bench", key, {"go": True})
    t_publish = time.perf_counter() - t0
    results = [await engine.wait(r, timeout=600) for r in ids]
    elapsed = time.perf_counter() - t0
    await engine.close()
    assert all(r.status == "completed" for r in results)
    return {
        "runs": args.runs,
        "backend": "distributed" if args.distributed else "embedded",
        "delivered": delivered,
        "publish_s": round(t_publish, 3),
        "all_resumed_s": round(elapsed, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--concurrency", type=int, default=64)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
