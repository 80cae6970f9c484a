"""Schedule accuracy: a 1-second cron schedule fired by worker processes.

    python bench/schedules.py [--seconds 60] [--workers 2] [--kill-after S]
                              [--catch-up skip|latest|all]

Starts ``--workers`` `legato worker` processes on the `legato dev` servers (a fresh
keyspace and topics), adds a schedule ``* * * * * *`` of a one-step blueprint
(built-in nodes only), lets it run ``--seconds``, deletes it and reads every run:
fire lag = the run's `run_started` time minus its tick (p50/p99), duplicate ticks
(two `run_started` for one tick) and missed ticks (a tick in the window without a
run). ``--kill-after S`` sends SIGKILL to the first worker S seconds in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

import legato
from legato.config import KafkaSettings, Settings
from legato.runtime import cron
from legato.schemas import RunStarted
from legato.schemas.schedules import Schedule


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from legato import migrations
    from legato.adapters.cassandra import connect as cassandra_connect
    from legato.adapters.kafka import apply_topics

    name = f"bench_{uuid.uuid4().hex[:8]}"
    kafka = replace(
        KafkaSettings(),
        jobs_topic=f"{name}.jobs",
        commands_topic=f"{name}.commands",
        deadletter_topic=f"{name}.dlq",
        group=name,
        partitions=4,
    )
    settings = replace(
        Settings.from_urls(None, "cassandra://127.0.0.1:9042/" + name, "redis://127.0.0.1:6379/0"),
        kafka=kafka,
    )
    apply_topics(kafka)
    cluster, session = cassandra_connect(settings.cassandra)  # type: ignore[arg-type]
    migrations.apply(session, name)
    cluster.shutdown()
    env = {
        **os.environ,
        "LEGATO_KAFKA": f"kafka://127.0.0.1:9092?jobs_topic={kafka.jobs_topic}&group={name}"
        f"&commands_topic={kafka.commands_topic}&deadletter_topic={kafka.deadletter_topic}",
        "LEGATO_CASSANDRA": f"cassandra://127.0.0.1:9042/{name}",
        "LEGATO_REDIS": "redis://127.0.0.1:6379/0",
    }
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 (held for the whole benchmark)
            [
                sys.executable,
                "-m",
                "legato",
                "worker",
                "--health-port",
                str(18500 + i + os.getpid() % 500),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(args.workers)
    ]
    reg = legato.compile(
        {"id": "ticked", "nodes": [{"id": "nap", "uses": "legato.sleep", "params": {"seconds": 0}}]}
    )
    try:
        async with await legato.Client.connect(settings) as client:
            await client.register(reg)
            await asyncio.sleep(5)  # the workers join their group
            first = await client.schedules.add(
                Schedule("sec", "ticked", "* * * * * *", catch_up=args.catch_up)
            )
            t0 = time.monotonic()
            killed = False
            while time.monotonic() - t0 < args.seconds:
                await asyncio.sleep(0.5)
                if args.kill_after and not killed and time.monotonic() - t0 >= args.kill_after:
                    procs[0].send_signal(signal.SIGKILL)
                    killed = True
            await client.schedules.delete("sec")
            last = first + args.seconds - 3  # ticks well inside the window
            await asyncio.sleep(3)
            lags, missed, duplicates = [], 0, 0
            tick = first
            while tick <= last:
                rid = cron.run_id("sec", tick)
                if await client.backend.store.get_run(rid) is None:
                    missed += 1
                else:
                    started = [e for e in await client.history(rid) if isinstance(e, RunStarted)]
                    duplicates += len(started) - 1
                    lags.append(started[0].at - tick)
                tick += 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    return {
        "workers": args.workers,
        "seconds": args.seconds,
        "killed_one_after": args.kill_after,
        "catch_up": args.catch_up,
        "ticks": len(lags) + missed,
        "missed": missed,
        "duplicates": duplicates,
        "lag_p50_ms": round(1000 * statistics.median(lags), 1) if lags else None,
        "lag_p99_ms": round(1000 * percentile(lags, 0.99), 1) if lags else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-after", type=float, default=0.0)
    parser.add_argument("--catch-up", choices=("skip", "latest", "all"), default="skip")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
