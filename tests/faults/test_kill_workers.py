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
from pathlib import Path

import pytest

import legato
from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings, Settings
from legato.distributed import connect
from legato.reconciler import Reconciler
from legato.schemas import StepCompleted
from tests.servers import cassandra_url, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("LEGATO_FAULT_RUNS", "500"))


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


async def test_kill_9_workers_under_load(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    name = unique("fault")
    kafka_url = (
        f"kafka://{kafka_bootstrap}?jobs_topic={name}.jobs&group={name}"
        f"&commands_topic={name}.cmd&deadletter_topic={name}.dlq&partitions=6"
    )
    apply_topics(KafkaSettings.from_url(kafka_url))
    assert legato_settings.cassandra is not None
    env = {
        **os.environ,
        "LEGATO_KAFKA": kafka_url,
        "LEGATO_CASSANDRA": cassandra_url(legato_settings.cassandra, cassandra_keyspace),
        "LEGATO_REDIS": redis_url,
        "LEGATO_FAULT_LOG": str(tmp_path / "executions.log"),
        "PYTHONPATH": str(ROOT),
    }
    settings = Settings.from_urls(env["LEGATO_KAFKA"], env["LEGATO_CASSANDRA"], redis_url)
    dist = await connect(settings)
    client = legato.Engine(dist.backend)  # starts runs and reconciles; runs no steps
    regs = shapes()
    workers = [spawn(env, tmp_path / "w0.log"), spawn(env, tmp_path / "w1.log")]
    killed = 0
    started = time.monotonic()
    try:
        ids = [await client.start(regs[i % 3], 1) for i in range(RUNS)]
        reconciler = Reconciler(client, stalled_after=4)
        pending = set(ids)
        deadline = time.monotonic() + 240
        next_kill = time.monotonic() + 2
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if killed < 4 and time.monotonic() >= next_kill:
                victim = workers.pop(0)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed += 1
                workers.append(spawn(env, tmp_path / f"w{killed + 1}.log"))
                next_kill = time.monotonic() + 3
            headers = await asyncio.gather(*(client.status(r) for r in pending))
            pending = {h.run_id for h in headers if h.status == "running"}
            if pending and killed >= 4:
                await reconciler.run_once()
        recovered = time.monotonic() - started
        assert not pending, f"{len(pending)} runs never completed"
        completions: Counter[tuple[str, str]] = Counter()
        for rid in ids:
            header = await client.status(rid)
            assert header.status == "completed", (rid, header.error)
            for e in await dist.backend.store.history(rid):
                if isinstance(e, StepCompleted):
                    completions[(rid, e.step_id)] += 1
        assert set(completions.values()) == {1}, "a step's completion was recorded twice"
        joins = [k for k in completions if k[1] in ("join", "any")]
        assert all(completions[k] == 1 for k in joins)
        lines = (tmp_path / "executions.log").read_text().splitlines()
        executions = Counter(tuple(line.split()) for line in lines)
        repeated = sum(n - 1 for n in executions.values())
        print(
            f"\nfaults: runs={RUNS} workers_killed={killed} completed={len(ids)} "
            f"steps={len(completions)} executions={len(lines)} repeated_executions="
            f"{repeated} join_completions_twice=0 seconds={recovered:.1f}"
        )
    finally:
        for w in workers:
            w.kill()
            w.wait()
        await client.close()
        await dist.close()
