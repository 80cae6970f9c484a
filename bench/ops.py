"""Per-operation latency of the store and coordinator on the local servers.

    python bench/ops.py [--n 500] [--concurrency 16] [--json]

Sequential calls give latency (p50/p99/mean, ms); ``--concurrency`` concurrent
callers give throughput (ops/s). Measured:

- ``resolve_step`` (LWT): the real single-partition batch, conditional on the step
  row not existing and on the run existing (Paxos);
- ``resolve_plain``: the same batch without conditions (what first-wins costs);
- ``get_steps``: the read a step does for itself;
- ``arrive``: one join arrival through join.lua (the deciding one of a 2-way join);
- ``lease``: acquire + release (two lease.lua calls).

Uses LEGATO_CASSANDRA / LEGATO_REDIS, or the `legato dev` servers; a fresh keyspace
and key prefix, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from legato import migrations
from legato.adapters.cassandra import connect
from legato.adapters.cassandra.aio import execute
from legato.adapters.cassandra.store import EVENT, STEP, CassandraRunStore, _seq
from legato.adapters.redis import RedisCoordinator
from legato.config import CassandraSettings, RedisSettings
from legato.schemas import RunHeader, RunStarted, StepCompleted, StepRecord

Op = Callable[[int], Awaitable[Any]]


async def measure(op: Op, n: int, concurrency: int) -> dict[str, float]:
    for i in range(20):  # warm-up: prepared statements, script cache, connections
        await op(-1 - i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        await op(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    sem = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with sem:
            await op(n + i)

    t0 = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(n)))
    rate = n / (time.perf_counter() - t0)
    return {
        "p50_ms": round(times[len(times) // 2], 3),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
        "mean_ms": round(statistics.fmean(times), 3),
        f"ops_per_s_c{concurrency}": round(rate),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cs = CassandraSettings.from_url(os.environ.get("LEGATO_CASSANDRA", "cassandra://127.0.0.1"))
    rs = RedisSettings.from_url(os.environ.get("LEGATO_REDIS", "redis://127.0.0.1:6379/0"))
    loop = asyncio.get_running_loop()
    cluster, session = await loop.run_in_executor(None, connect, cs)
    keyspace = f"bench_{uuid.uuid4().hex[:8]}"
    await loop.run_in_executor(None, migrations.apply, session, keyspace)
    store = await CassandraRunStore.open(session, keyspace)
    coordinator = RedisCoordinator.from_url(rs.url, prefix=f"bench{uuid.uuid4().hex[:6]}:")
    # Data that began long ago, as a deployment's: no grace after a loss (lease.lua).
    await coordinator.client.set(f"{coordinator.prefix}born", int((time.time() - 3600) * 1000))
    try:
        rid = uuid.uuid4().hex
        now = time.time()
        header = RunHeader(rid, "bp", "1", "running", None, None, now, now)
        started = RunStarted(at=now, run_id=rid, blueprint_id="bp", version="1")
        await store.create_run(header, started)
        record = StepRecord("done", "s", {"value": 1})
        event = StepCompleted(at=now, step_id="s", node="s", attempt=1, output={"value": 1})
        plain = session.prepare(
            f"INSERT INTO {keyspace}.runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?)"
        )
        touch = session.prepare(f"UPDATE {keyspace}.runs SET updated_at = ? WHERE run_id = ?")
        enc_record, enc_event = msgspec.msgpack.encode(record), msgspec.msgpack.encode(event)

        async def resolve_lwt(i: int) -> Any:
            return await store.resolve_step(rid, f"s{i}", record, event)

        async def resolve_plain(i: int) -> Any:
            batch = store._batch()
            batch.add(plain, (rid, STEP, f"p{i}", "", enc_record))
            batch.add(plain, (rid, EVENT, _seq(), "", enc_event))
            batch.add(touch, (datetime.now(UTC), rid))
            return await execute(session, batch)

        async def get_steps(i: int) -> Any:
            return await store.get_steps(rid, (f"s{abs(i) % args.n}",))

        async def arrive(i: int) -> Any:
            await coordinator.arrive(rid, f"j{i}", "a", True, 2, "all")
            return await coordinator.arrive(rid, f"j{i}", "b", True, 2, "all")

        async def lease(i: int) -> Any:
            token = (await coordinator.acquire_lease(rid, f"l{i}", "w", 30.0)).token
            assert token is not None
            await coordinator.release_lease(rid, f"l{i}", token)

        results = {}
        for name, op in [
            ("resolve_step (LWT batch)", resolve_lwt),
            ("resolve_plain (batch, no LWT)", resolve_plain),
            ("get_steps (one step)", get_steps),
            ("arrive x2 (join.lua, 2-way join)", arrive),
            ("lease acquire+release (lease.lua x2)", lease),
        ]:
            results[name] = await measure(op, args.n, args.concurrency)
    finally:
        await coordinator.close()
        await loop.run_in_executor(None, session.execute, f"DROP KEYSPACE {keyspace}")
        await loop.run_in_executor(None, cluster.shutdown)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"n={args.n} sequential; throughput with {args.concurrency} concurrent callers")
    for name, r in results.items():
        cols = "  ".join(f"{k}={v}" for k, v in r.items())
        print(f"{name:40s} {cols}")


if __name__ == "__main__":
    asyncio.run(main())
