"""Starting runs (closed loop or open loop), noticing their end, the progress line."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import legato
from bench.loadkit import shapes
from bench.loadkit.cluster import Cluster
from bench.loadkit.stats import Histories

POLL_INTERVAL = 0.05  # how often the statuses of runs in flight are read
POLL_CHUNK = 100  # run ids per status query


@dataclass
class LoadOptions:
    shape: str = "chain"
    nodes: int = 10
    concurrency: int = 16  # closed loop: runs in flight
    rate: float | None = None  # open loop: runs started per second
    duration: float = 20.0  # seconds of starting runs
    runs: int | None = None  # stop after starting this many runs
    local_concurrency: int = 64  # jobs this process works at once (0: none)
    workers: int = 0  # worker processes
    worker_concurrency: int = 64
    run_timeout: float = 300.0
    progress: bool = True
    max_in_flight: int = 5000  # open loop: refuse to start more than this many at once


class Watcher:
    """Reads the status of every run in flight in one query per ``POLL_CHUNK`` runs
    (instead of a poll loop per run), and resolves each run's future when it ends."""

    def __init__(self, store: Any) -> None:
        self.session, ks = store.session, store.keyspace
        self._q = self.session.prepare(
            f"SELECT DISTINCT run_id, status FROM {ks}.runs WHERE run_id IN ?"
        )
        self.pending: dict[str, asyncio.Future[str]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, run_id: str) -> asyncio.Future[str]:
        fut = asyncio.get_running_loop().create_future()
        self.pending[run_id] = fut
        if self._task is None:
            self._task = asyncio.create_task(self._poll())
        return fut

    async def _poll(self) -> None:
        from legato.adapters.cassandra.aio import execute

        while True:
            await asyncio.sleep(POLL_INTERVAL)
            ids = list(self.pending)
            for i in range(0, len(ids), POLL_CHUNK):
                try:
                    rows = await execute(self.session, self._q, (ids[i : i + POLL_CHUNK],))
                except Exception as exc:  # a slow poll is retried at the next tick
                    print(f"\n(status poll failed: {exc})", file=sys.stderr)
                    continue
                for r in rows:
                    if r.status not in (None, "running"):
                        fut = self.pending.pop(r.run_id, None)
                        if fut is not None and not fut.done():
                            fut.set_result(r.status)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class Progress:
    """One line on stderr, rewritten with ``\\r``."""

    def __init__(self, opts: LoadOptions, nodes: int, enabled: bool) -> None:
        self.opts, self.nodes, self.enabled = opts, nodes, enabled
        self.started = self.done = self.errors = 0
        self.t0 = time.monotonic()
        self.stopping = False

    def line(self) -> str:
        elapsed = time.monotonic() - self.t0
        if self.opts.runs is not None:
            frac = self.started / max(1, self.opts.runs)
        else:
            frac = elapsed / max(1e-9, self.opts.duration)
        frac = min(1.0, frac)
        bar = "#" * int(frac * 24) + "-" * (24 - int(frac * 24))
        rate = self.done * self.nodes / max(1e-9, elapsed)
        phase = "draining" if self.stopping else "loading"
        return (
            f"\r[{bar}] {elapsed:6.1f}s {phase}: {self.done}/{self.started} runs done, "
            f"~{rate:,.0f} steps/s, {self.started - self.done} in flight, "
            f"{self.errors} errors "
        )

    async def show(self) -> None:
        while self.enabled:
            sys.stderr.write(self.line())
            sys.stderr.flush()
            await asyncio.sleep(0.5)

    def finish(self) -> None:
        if self.opts.progress:
            sys.stderr.write(self.line() + "\n")
            sys.stderr.flush()


async def drive(
    engine: legato.Engine, watcher: Watcher, reg: legato.Registry, opts: LoadOptions
) -> tuple[list[str], int]:
    """Start runs until ``duration`` or ``runs``; wait for them; return (run ids, errors)."""
    progress = Progress(opts, len(reg.nodes), opts.progress)
    shown = asyncio.create_task(progress.show())
    ids: list[str] = []
    errors = 0
    deadline = time.monotonic() + opts.duration
    limit = opts.runs if opts.runs is not None else 1 << 62

    def more() -> bool:
        return progress.started < limit and (opts.runs is not None or time.monotonic() < deadline)

    async def one() -> None:
        nonlocal errors
        progress.started += 1
        try:
            try:
                rid = await engine.start(reg, 0, register=False)
            except Exception as exc:
                errors += 1
                progress.errors += 1
                print(f"\n(start failed: {type(exc).__name__}: {exc})", file=sys.stderr)
                return
            ids.append(rid)
            try:
                # A run that ends failed or late is counted from its history.
                await asyncio.wait_for(watcher.watch(rid), opts.run_timeout)
            except TimeoutError:
                progress.errors += 1
        finally:
            progress.done += 1

    if opts.rate is None:

        async def loop() -> None:
            while more():
                await one()

        await asyncio.gather(*(loop() for _ in range(opts.concurrency)))
    else:
        tasks: set[asyncio.Task[None]] = set()
        t0, k = time.monotonic(), 0
        while more():
            wait = t0 + k / opts.rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            k += 1
            if len(tasks) >= opts.max_in_flight:
                errors += 1  # the cluster fell this far behind the offered rate
                progress.errors += 1
                continue
            t = asyncio.create_task(one())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        progress.stopping = True
        await asyncio.gather(*tasks)
    progress.enabled = False
    await shown
    progress.finish()
    return ids, errors


async def read_histories(store: Any, reg: legato.Registry, ids: list[str]) -> Histories:
    h = Histories()
    skip = shapes.waits(reg)
    sem = asyncio.Semaphore(32)

    async def one(rid: str) -> list[Any]:
        async with sem:
            return list(await store.history(rid))

    for events in await asyncio.gather(*(one(r) for r in ids)):
        h.add(reg, events, skip)
    return h


async def warm_up(engine: legato.Engine, watcher: Watcher, n: int) -> None:
    """A few short runs before measuring: connections, prepared statements, partition
    assignment of every worker (short: a 10,000-node load must not warm up for minutes)."""
    reg = await engine.register(shapes.blueprint("chain", 3))
    ids = [await engine.start(reg, 0, register=False) for _ in range(n)]
    await asyncio.wait_for(asyncio.gather(*(watcher.watch(r) for r in ids)), 120)


def cpu_seconds(pids: list[int], itself: bool) -> float:
    """CPU time (user + system) of this process (if ``itself``) and of ``pids``."""
    total = sum(os.times()[:2]) if itself else 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


async def run_load(
    cluster: Cluster, opts: LoadOptions
) -> tuple[legato.Registry, Histories, int, float]:
    """One load on ``cluster``: returns the blueprint, the histories of the measured
    runs, the errors seen while starting/waiting, and the CPU seconds of the
    processes that worked the steps (worker processes, and this one if it works)."""
    from legato.adapters import open_backend

    reg = shapes.blueprint(opts.shape, opts.nodes)
    backend = await open_backend(cluster.settings)
    engine = legato.Engine(backend, concurrency=max(1, opts.local_concurrency))
    watcher = Watcher(backend.store)
    try:
        await engine.register(reg)
        if opts.local_concurrency > 0:
            engine.start_workers()
        await warm_up(engine, watcher, max(2, 2 * opts.workers))
        pids = [p.pid for p, _ in cluster.procs]
        local = opts.local_concurrency > 0
        cpu = cpu_seconds(pids, local)
        ids, errors = await drive(engine, watcher, reg, opts)
        cpu = cpu_seconds(pids, local) - cpu
        hist = await read_histories(backend.store, reg, ids)
    finally:
        await watcher.close()
        await engine.close()
        await backend.close()
    return reg, hist, errors, cpu
