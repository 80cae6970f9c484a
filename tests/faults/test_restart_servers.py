"""Restart Kafka, Cassandra or Redis (each in its own test) while runs of mixed DAGs
execute (see ``tests/faults/load.py`` for what every fault test checks afterwards).

The servers are the local ``legato dev`` ones (restarted through their pid files and
``devserver.up``); against other servers these tests skip, and under CI they fail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from legato import devserver
from legato.config import Settings
from legato.devserver import DevOptions
from legato.devserver.process import stop
from tests.faults import ledger
from tests.faults.load import RUNS, Disrupt, Load, run_load
from tests.servers import require_restartable

pytestmark = pytest.mark.integration


def restart(name: str, opts: DevOptions, *, after: int, down_for: int) -> Disrupt:
    """Stop server ``name`` (SIGTERM, waits for exit) once ``after`` steps have
    started (mid-load, however fast the machine), start it again ``down_for`` ticks
    later (returning once it answers requests); the disruption ends then."""
    stopped: list[int] = []

    async def disrupt(load: Load) -> bool:
        if not stopped:
            if ledger.started(load.ledger) >= after:
                await asyncio.to_thread(stop, opts.server_dir(name) / "pid", name)
                stopped.append(load.tick)
        elif load.tick >= stopped[0] + down_for:
            await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
            return False
        return True

    return disrupt


@pytest.mark.parametrize(("name", "down_for"), [("kafka", 10), ("cassandra", 10), ("redis", 4)])
async def test_restart_under_load(
    name: str,
    down_for: int,
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
    elif name == "redis":
        parts = urlsplit(redis_url)
        opts = require_restartable(name, parts.hostname or "", parts.port or 6379)
    else:
        cassandra = legato_settings.cassandra
        opts = require_restartable(name, cassandra.hosts[0], cassandra.port)
    try:
        summary, _ = await run_load(
            legato_settings,
            cassandra_keyspace,
            kafka_bootstrap,
            redis_url,
            tmp_path,
            restart(name, opts, after=RUNS // 5, down_for=down_for),
        )
    finally:  # whatever failed, the next tests get their servers back
        await asyncio.to_thread(devserver.up, opts, say=lambda m: None)
    print(f"\nfaults ({name} restart, down {down_for / 2:.0f} s): {summary}")
