"""Restart Kafka, then Cassandra, then Redis (each in its own test) while runs of
mixed DAGs execute: every run completes after recovery, each step's completion is
recorded once, and no worker exits.

The servers are the local ``legato dev`` ones (restarted through their pid files and
``devserver.up``); against other servers these tests skip, and under CI they fail.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from legato import devserver
from legato.config import Settings
from legato.devserver import DevOptions
from legato.devserver.process import stop
from tests.faults.test_kill_workers import RUNS, Disrupt, executions, run_load
from tests.servers import require_restartable

pytestmark = pytest.mark.integration


def restart(name: str, opts: DevOptions, logs: Path, *, after: int, down_for: int) -> Disrupt:
    """A disruption (see ``run_load``) that stops server ``name`` (SIGTERM, waits for
    exit) once ``after`` steps have started (the fault nodes' log in ``logs``: mid-load,
    however fast the machine), and starts it again ``down_for`` ticks later
    (returning once it answers requests); it ends after the restart."""
    stopped: list[int] = []

    async def disrupt(
        tick: int,
        workers: list[subprocess.Popen[bytes]],
        new_worker: Callable[[str], subprocess.Popen[bytes]],
    ) -> bool:
        if not stopped:
            if executions(logs).count("\n") >= after:
                await asyncio.to_thread(stop, opts.server_dir(name) / "pid", name)
                stopped.append(tick)
        elif tick >= stopped[0] + down_for:
            await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
            return False
        return True

    return disrupt


@pytest.mark.parametrize("name", ["kafka", "cassandra"])
async def test_restart_under_load(
    name: str,
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    assert legato_settings.cassandra is not None
    if name == "kafka":
        host, _, port = kafka_bootstrap.split(",")[0].rpartition(":")
        opts = require_restartable(name, host, int(port))
    else:
        cassandra = legato_settings.cassandra
        opts = require_restartable(name, cassandra.hosts[0], cassandra.port)
    try:
        summary = await run_load(
            legato_settings,
            cassandra_keyspace,
            kafka_bootstrap,
            redis_url,
            tmp_path,
            restart(name, opts, tmp_path, after=RUNS // 5, down_for=10),
        )
    finally:  # whatever failed, the next tests get their servers back
        await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
    print(f"\nfaults ({name} restart): {summary}")
