"""kill -9 workers again and again while runs of mixed DAGs execute: every run
completes, every step's completion is recorded once, no join fires twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import legato
from legato.adapters import open_backend
from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings, Settings
from legato.reconciler import Reconciler
from legato.runtime.errors import BackendUnavailableError
from legato.schemas import StepCompleted
from tests.servers import cassandra_url, require_restartable, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("LEGATO_FAULT_RUNS", "500"))


JOINS = ("join", "any")  # the join steps of the shapes below


def shapes() -> list[legato.Registry]:
    work = "tests.faults.fault_nodes:work"  # importable by the worker processes

    chain = legato.Flow("fault_chain")
    for i in range(6):
        chain.node(f"c{i}", work)
    for i in range(1, 6):
        chain.edge(f"c{i - 1}", f"c{i}")
    fan = legato.Flow("fault_fan").node("src", work).node("join", work)
    for i in range(5):
        fan.node(f"b{i}", work).edge("src", f"b{i}").edge(f"b{i}", "join")
    diamond = (
        legato.Flow("fault_diamond")
        .node("a", work)
        .node("l", work)
        .node("r", work)
        .node("any", work, join="any")
        .node("z", work)
        .edge("a", "l")
        .edge("a", "r")
        .edge("l", "any")
        .edge("r", "any")
        .edge("any", "z", condition="output > 0")
    )
    regs = [legato.compile(f) for f in (chain, fan, diamond)]
    return regs


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "legato",
            "worker",
            "--import",
            "tests.faults.fault_nodes",
            "--concurrency",
            "16",
            "--health-port",
            "0",
            "--lease-ttl",
            "3",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def executions(tmp_path: Path) -> str:
    """The fault nodes' log: one line ``run_id step_id pid`` per execution."""
    log = tmp_path / "executions.log"
    return log.read_text() if log.exists() else ""


def busiest(workers: list[subprocess.Popen[bytes]], log: str) -> subprocess.Popen[bytes] | None:
    """The worker that started the most of the last 50 executions (None if none did)."""
    recent = Counter(int(line.rsplit(" ", 1)[1]) for line in log.splitlines()[-50:])
    busy = [w for w in workers if recent[w.pid]]
    return max(busy, key=lambda w: recent[w.pid]) if busy else None


ENV_URLS = ("LEGATO_KAFKA", "LEGATO_CASSANDRA", "LEGATO_REDIS")


def worker_env(
    legato_settings: Settings,
    keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    partitions: int,
) -> dict[str, str]:
    """The environment of fault-test worker processes: fresh topics (created here),
    the test's keyspace, and the fault nodes' execution log in ``tmp_path``."""
    name = unique("fault")
    kafka_url = (
        f"kafka://{kafka_bootstrap}?jobs_topic={name}.jobs&group={name}"
        f"&commands_topic={name}.cmd&deadletter_topic={name}.dlq&partitions={partitions}"
    )
    apply_topics(KafkaSettings.from_url(kafka_url))
    assert legato_settings.cassandra is not None
    return {
        **os.environ,
        "LEGATO_KAFKA": kafka_url,
        "LEGATO_CASSANDRA": cassandra_url(legato_settings.cassandra, keyspace),
        "LEGATO_REDIS": redis_url,
        "LEGATO_FAULT_LOG": str(tmp_path / "executions.log"),
        "PYTHONPATH": str(ROOT),
    }


Disrupt = Callable[
    [int, list[subprocess.Popen[bytes]], Callable[[str], subprocess.Popen[bytes]]], Awaitable[bool]
]


async def run_load(
    legato_settings: Settings,
    keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    disrupt: Disrupt,
) -> str:
    """Start RUNS runs, then two worker processes; call ``disrupt(tick, workers, spawn)``
    every half second until it returns False, reconcile stalled runs, then check that
    every run completed with each step recorded once. Returns a summary line."""
    env = worker_env(legato_settings, keyspace, kafka_bootstrap, redis_url, tmp_path, 6)
    dist = await open_backend(Settings.from_urls(*(env[k] for k in ENV_URLS)))
    client = legato.Engine(dist)  # starts runs and reconciles; runs no steps
    regs = shapes()
    count = [0]

    def new_worker(tag: str) -> subprocess.Popen[bytes]:
        count[0] += 1
        return spawn(env, tmp_path / f"worker{count[0]}-{tag}.log")

    workers: list[subprocess.Popen[bytes]] = []
    try:
        # Every run is started before the workers, so that the whole load runs while
        # disruptions are made (starting 500 runs takes longer than working them).
        ids = [await client.start(regs[i % 3], 1) for i in range(RUNS)]
        workers += [new_worker("a"), new_worker("b")]
        started = time.monotonic()
        reconciler = Reconciler(client.backend, stalled_after=4)
        pending, disrupting, tick = set(ids), True, 0
        deadline = time.monotonic() + 240
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            tick += 1
            if disrupting:
                disrupting = await disrupt(tick, workers, new_worker)
                if not disrupting:  # recovery gets its own time, however long that took
                    deadline = max(deadline, time.monotonic() + 180)
            try:
                headers = await asyncio.gather(*(client.status(r) for r in pending))
                pending = {h.run_id for h in headers if h.status == "running"}
                if pending and not disrupting:
                    await reconciler.run_once()
            except BackendUnavailableError:
                continue  # a server is down on purpose; wait it out
        recovered = time.monotonic() - started
        assert not disrupting, "the runs ended before the disruption did: start more runs"
        assert not pending, f"{len(pending)} runs never completed"
        completions: Counter[tuple[str, str]] = Counter()
        for rid in ids:
            header = await client.status(rid)
            assert header.status == "completed", (rid, header.error)
            for e in await dist.store.history(rid):
                if isinstance(e, StepCompleted):
                    completions[(rid, e.step_id)] += 1
        joins_twice = sum(1 for (_, sid), n in completions.items() if sid in JOINS and n > 1)
        assert joins_twice == 0, f"{joins_twice} joins completed twice"
        assert set(completions.values()) == {1}, "a step's completion was recorded twice"
        assert all(p.poll() is None for p in workers), "a worker exited"
        lines = [ln.rsplit(" ", 1)[0] for ln in executions(tmp_path).splitlines()]
        runs_of = Counter(lines)
        repeated = sum(n - 1 for n in runs_of.values())
        join_repeated = sum(n - 1 for k, n in runs_of.items() if k.split(" ")[1] in JOINS)
        return (
            f"runs={RUNS} completed={len(ids)} steps={len(completions)} "
            f"executions={len(lines)} repeated_executions={repeated} "
            f"(of joins: {join_repeated}) joins_completed_twice={joins_twice} "
            f"seconds={recovered:.1f}"
        )
    finally:
        for w in workers:
            w.kill()
            w.wait()
        await client.close()
        await dist.close()


async def test_kill_9_workers_under_load(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    kills: list[int] = []

    async def kill(
        tick: int,
        workers: list[subprocess.Popen[bytes]],
        new_worker: Callable[[str], subprocess.Popen[bytes]],
    ) -> bool:
        # kill -9 the worker running the most steps each time another RUNS steps
        # (of ~6 x RUNS) have started, 4 times: each kill lands in the middle of steps,
        # however fast the machine.
        log = executions(tmp_path)
        if log.count("\n") >= (len(kills) + 1) * RUNS:
            victim = busiest(workers, log)
            if victim is not None:
                workers.remove(victim)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills.append(tick)
                workers.append(new_worker("replacement"))
        return len(kills) < 4

    summary = await run_load(
        legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, kill
    )
    assert len(kills) == 4
    print(f"\nfaults (kill -9 x4 of the busiest worker): {summary}")


async def test_redis_flushall_and_restart_under_load(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    import redis.asyncio as redis

    from legato import devserver
    from legato.devserver.process import stop

    parts = urlsplit(redis_url)
    opts = require_restartable("redis", parts.hostname or "", parts.port or 6379)

    done: list[str] = []

    async def wipe(
        tick: int,
        workers: list[subprocess.Popen[bytes]],
        new_worker: Callable[[str], subprocess.Popen[bytes]],
    ) -> bool:
        # By progress (steps started), so that each lands mid-load however fast the
        # machine: FLUSHALL twice, then stop Redis, and start it 2 s later.
        started = executions(tmp_path).count("\n")
        step = len(done)
        if step < 2 and started >= (step + 1) * RUNS // 2:
            client = redis.from_url(redis_url)
            await client.flushall()
            await client.aclose()
            done.append(f"flushall@{tick}")
        elif step == 2 and started >= 3 * RUNS // 2:
            await asyncio.to_thread(stop, opts.server_dir("redis") / "pid", "redis")
            done.append(f"stop@{tick}")
        elif step == 3 and tick >= int(done[2].split("@")[1]) + 4:
            await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
            done.append(f"up@{tick}")
        return len(done) < 4

    try:
        summary = await run_load(
            legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, wipe
        )
    finally:  # whatever failed, the next tests get their Redis back
        await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
    print(f"\nfaults (FLUSHALL x2, Redis restart): {summary}")
