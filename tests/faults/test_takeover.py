"""Takeover: the worker running a step is killed (kill -9); the redelivered job (after
the group's rebalance) finds the dead worker's lease, is handed over, and runs the
step as soon as that lease expires, with no reconciler and no watchdog running."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import legato
from legato.adapters import open_backend
from legato.config import Settings
from tests.faults import ledger
from tests.faults.load import ENV_URLS, NODES, spawn, worker_env

pytestmark = pytest.mark.integration
LEASE = 10.0  # the workers' default


async def test_a_killed_workers_step_is_taken_over_when_its_lease_expires(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = worker_env(legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, 2)
    backend = await open_backend(Settings.from_urls(*(env[k] for k in ENV_URLS)))
    client = legato.Engine(backend)
    reg = legato.compile(
        legato.Flow("taken_over")
        .node("slow", f"{NODES}:hang_once")
        .node("after", f"{NODES}:work")
        .edge("slow", "after")
    )
    path = tmp_path / "ledger.jsonl"
    first = spawn(env, tmp_path / "worker1.log", lease_ttl=LEASE)
    second = None
    try:
        rid = await client.start(reg, 1)
        for _ in range(300):  # up to a minute for the worker to start the step
            if ledger.running(path, ("slow",)):
                break
            await asyncio.sleep(0.2)
        assert ledger.running(path, ("slow",)), "the step never started"
        second = spawn(env, tmp_path / "worker2.log", lease_ttl=LEASE)
        await asyncio.sleep(3)  # the second worker has joined the group
        first.kill()  # mid-step
        first.wait()
        killed = time.time()
        result = await client.wait(rid, timeout=90)
        waited = time.time() - killed
        assert result.status == "completed", result.error
        assert result.outputs["slow"] == "done"
        verdict = ledger.check(ledger.read(path), {first.pid: killed})
        assert verdict.again == verdict.again_after_kill == 1
        taken = [e for e in ledger.read(path) if e.step == "slow"][1]
        assert taken.start - killed >= LEASE * 0.5  # not before the dead worker's lease ran out
        assert waited < LEASE + 20  # the lease and a rebalance, not a reconciler pass
        print(f"\ntakeover: step ran again {taken.start - killed:.1f} s after the kill")
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                w.kill()
                w.wait()
        await client.close()
        await backend.close()
