"""A timed step's watchdog is a durable timer: the worker running the step is
killed; its job's redelivery (after the group rebalance, ~10 s) finds the dead
worker's lease still held (30 s) and is dropped; the watchdog timer the dead worker
set resumes the step, with no reconciler running anywhere."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import legato
from legato.adapters import open_backend
from legato.config import Settings
from tests.faults.test_kill_workers import ENV_URLS, ROOT, executions, worker_env

pytestmark = pytest.mark.integration


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    args = ["--import", "tests.faults.fault_nodes", "--health-port", "0", "--lease-ttl", "30"]
    return subprocess.Popen(
        [sys.executable, "-m", "legato", "worker", *args],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_the_watchdog_resumes_a_step_whose_worker_was_killed(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = worker_env(legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, 2)
    dist = await open_backend(Settings.from_urls(*(env[k] for k in ENV_URLS)))
    client = legato.Engine(dist)  # starts the run; no reconciler anywhere
    reg = legato.compile(
        legato.Flow("watched")
        .node("slow", "tests.faults.fault_nodes:hang_once", timeout=2)
        .node("after", "tests.faults.fault_nodes:work")
        .edge("slow", "after")
    )
    first = spawn(env, tmp_path / "worker1.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        rid = await client.start(reg, 1)
        for _ in range(300):  # up to a minute for the worker to start the step
            if "slow" in executions(tmp_path):
                break
            await asyncio.sleep(0.2)
        assert "slow" in executions(tmp_path), "the step never started"
        first.send_signal(signal.SIGKILL)  # mid-step: its lease lives up to 30 s more
        first.wait()
        killed = time.monotonic()
        second = spawn(env, tmp_path / "worker2.log")
        result = await client.wait(rid, timeout=90)
        waited = time.monotonic() - killed
        assert result.status == "completed", result.error
        assert result.outputs["slow"] == "done"
        lines = executions(tmp_path).splitlines()
        assert [ln.split(" ")[1] for ln in lines].count("slow") == 2  # killed, then resumed
        assert (tmp_path / "worker2.log").read_text().count("watchdog of") == 1
        print(f"\nwatchdog: resumed {waited:.1f} s after the kill (timeout 2 s, lease 30 s)")
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                w.kill()
                w.wait()
        await client.close()
        await dist.close()
