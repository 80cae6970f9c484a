"""The fault tests' load: runs of mixed DAGs worked by ``legato worker`` processes
while a disruption happens, then the checks that can fail.

After the load, every run must have completed with the outputs the embedded engine
gives for the same blueprint and input; every join step completed once; and the
ledger (``tests/faults/fault_nodes.py``) must show that a step attempt ran again
only where its earlier execution was on a killed worker or lost its lease, never
overlapping in time (``ledger.check``). The reconciler runs as production runs it:
the schedule and stall threshold of ``deploy/k8s/reconciler-cronjob.yaml``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import legato
from legato.adapters import open_backend
from legato.adapters.kafka import apply_topics
from legato.config import KafkaSettings, Settings
from legato.reconciler import Reconciler
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.ports import Backend
from legato.schemas import StepCompleted
from tests.faults import ledger
from tests.servers import cassandra_url, unique

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("LEGATO_FAULT_RUNS", "500"))
LEASE_TTL = 3.0  # the workers' --lease-ttl: heartbeats every 0.75 s
JOINS = ("join", "any")  # the join steps of the shapes below
ENV_URLS = ("LEGATO_KAFKA", "LEGATO_CASSANDRA", "LEGATO_REDIS")
NODES = "tests.faults.fault_nodes"


def shapes() -> list[legato.Registry]:
    work, long = f"{NODES}:work", f"{NODES}:long"
    chain = legato.Flow("fault_chain")
    for i in range(6):
        chain.node(f"c{i}", long if i == 2 else work)
    for i in range(1, 6):
        chain.edge(f"c{i - 1}", f"c{i}")
    fan = legato.Flow("fault_fan").node("src", work).node("join", work)
    for i in range(5):
        fan.node(f"b{i}", long if i == 0 else work).edge("src", f"b{i}").edge(f"b{i}", "join")
    diamond = (
        legato.Flow("fault_diamond")
        .node("a", work)
        .node("l", long)
        .node("r", work)
        .node("any", work, join="any")
        .node("z", work)
        .edge("a", "l")
        .edge("a", "r")
        .edge("l", "any")
        .edge("r", "any")
        .edge("any", "z", condition="output > 0")
    )
    return [legato.compile(f) for f in (chain, fan, diamond)]


def production_reconciler() -> tuple[float, float]:
    """``(seconds between passes, stalled-after seconds)`` of the CronJob in deploy/."""
    doc = yaml.safe_load((ROOT / "deploy/k8s/reconciler-cronjob.yaml").read_text())
    schedule = doc["spec"]["schedule"]
    assert schedule == "* * * * *", f"read the schedule {schedule!r} here"
    container = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    after = args[args.index("--stalled-after") + 1]
    m = re.fullmatch(r"(\d+)([smh])", after)
    assert m is not None, after
    return 60.0, int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def worker_env(
    legato_settings: Settings,
    keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    partitions: int,
) -> dict[str, str]:
    """The environment of fault-test worker processes: fresh topics (created here),
    the test's keyspace, and the ledger in ``tmp_path``."""
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
        "LEGATO_FAULT_LOG": str(tmp_path / "ledger.jsonl"),
        "PYTHONPATH": str(ROOT),
    }


def spawn(env: dict[str, str], log: Path, lease_ttl: float = LEASE_TTL) -> subprocess.Popen[bytes]:
    args = ["--import", NODES, "--concurrency", "16", "--health-port", "0"]
    return subprocess.Popen(
        [sys.executable, "-m", "legato", "worker", *args, "--lease-ttl", str(lease_ttl)],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@dataclass
class Load:
    """What a disruption may look at and do."""

    tmp_path: Path
    spawn_worker: Callable[[str], subprocess.Popen[bytes]]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    killed: dict[int, float] = field(default_factory=dict)  # pid -> kill time (unix)
    tick: int = 0
    backend: Backend | None = None  # the test's own connection to the servers

    @property
    def ledger(self) -> Path:
        return self.tmp_path / "ledger.jsonl"

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        """kill -9 a worker and start a replacement."""
        self.workers.remove(worker)
        worker.kill()
        worker.wait()
        self.killed[worker.pid] = time.time()
        self.workers.append(self.spawn_worker("replacement"))

    def busiest(self) -> subprocess.Popen[bytes] | None:
        """The live worker running the most steps right now."""
        now = Counter(e.pid for e in ledger.running(self.ledger))
        busy = [w for w in self.workers if now[w.pid]]
        return max(busy, key=lambda w: now[w.pid]) if busy else None


Disrupt = Callable[[Load], Awaitable[bool]]  # called every half second until it says False


async def expected_outputs(regs: list[legato.Registry]) -> dict[str, dict[str, int]]:
    """The embedded engine's outputs of each shape on input 1 (no ledger written)."""
    saved = os.environ.pop("LEGATO_FAULT_LOG", None)
    try:
        out = {}
        for reg in regs:
            result = await legato.run(reg, 1, timeout=60)
            assert result.status == "completed", result.error
            out[reg.id] = result.outputs
        return out
    finally:
        if saved is not None:
            os.environ["LEGATO_FAULT_LOG"] = saved


async def run_load(
    legato_settings: Settings,
    keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
    disrupt: Disrupt,
) -> tuple[str, ledger.Verdict]:
    """Start RUNS runs, then two workers; call ``disrupt`` every half second until it
    returns False; run the reconciler on the production schedule; then check."""
    env = worker_env(legato_settings, keyspace, kafka_bootstrap, redis_url, tmp_path, 6)
    regs = shapes()
    expected = await expected_outputs(regs)
    backend = await open_backend(Settings.from_urls(*(env[k] for k in ENV_URLS)))
    client = legato.Engine(backend)  # starts runs and reconciles; runs no steps
    count = [0]

    def new_worker(tag: str) -> subprocess.Popen[bytes]:
        count[0] += 1
        return spawn(env, tmp_path / f"worker{count[0]}-{tag}.log")

    load = Load(tmp_path, new_worker, backend=backend)
    every, stalled_after = production_reconciler()
    reconciler = Reconciler(backend, stalled_after=stalled_after)
    passes = 0
    try:
        # Every run is started before the workers, so the whole load runs while the
        # disruption happens (starting 500 runs takes longer than working them).
        ids = {await client.start(regs[i % 3], 1): regs[i % 3].id for i in range(RUNS)}
        load.workers += [new_worker("a"), new_worker("b")]
        started = time.monotonic()
        next_pass = started + every
        pending, disrupting = set(ids), True
        deadline = started + 240
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            load.tick += 1
            if disrupting:
                disrupting = await disrupt(load)
                if not disrupting:  # recovery gets its own time, however long that took
                    deadline = max(deadline, time.monotonic() + 200)
            try:
                if time.monotonic() >= next_pass:
                    await reconciler.run_once()
                    passes += 1
                    next_pass += every
                headers = await asyncio.gather(*(client.status(r) for r in pending))
                pending = {h.run_id for h in headers if h.status == "running"}
            except BackendUnavailableError:
                continue  # a server is down on purpose; wait it out
        recovered = time.monotonic() - started
        assert not disrupting, "the runs ended before the disruption did: start more runs"
        assert not pending, f"{len(pending)} runs never completed"
        await asyncio.sleep(1.0)  # the last ledger lines of the workers
        completions: Counter[tuple[str, str]] = Counter()
        for rid, blueprint in ids.items():
            result = await client.wait(rid, timeout=30)
            assert result.status == "completed", (rid, result.error)
            assert result.outputs == expected[blueprint], rid
            for e in await backend.store.history(rid):
                if isinstance(e, StepCompleted):
                    completions[(rid, e.step_id)] += 1
        assert set(completions.values()) == {1}, "a step's completion was recorded twice"
        assert all(w.poll() is None for w in load.workers), "a worker exited"
        verdict = ledger.check(ledger.read(load.ledger), load.killed)
        joins = sum(1 for (_, sid) in completions if sid in JOINS)
        summary = (
            f"runs={RUNS} steps={len(completions)} joins={joins} "
            f"executions={verdict.executions} again_after_kill={verdict.again_after_kill} "
            f"again_after_lost_lease={verdict.again_after_lost_lease} "
            f"reconciler_passes={passes} seconds={recovered:.1f}"
        )
        return summary, verdict
    finally:
        for w in load.workers:
            w.kill()
            w.wait()
        await client.close()
        await backend.close()
