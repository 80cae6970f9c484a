"""kill -9 the busiest worker again and again while runs of mixed DAGs execute (see
``tests/faults/load.py`` for what every fault test checks afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.config import Settings
from tests.faults import ledger
from tests.faults.load import RUNS, Load, run_load

pytestmark = pytest.mark.integration


async def test_kill_9_workers_under_load(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    async def kill(load: Load) -> bool:
        # Each time another RUNS steps have started (of ~6 x RUNS), kill -9 the worker
        # running the most steps, 4 times: each kill lands mid-step, however fast the
        # machine; the long steps make sure some are several heartbeats in.
        if ledger.started(load.ledger) >= (len(load.killed) + 1) * RUNS:
            victim = load.busiest()
            if victim is not None:
                load.kill(victim)
        return len(load.killed) < 4

    summary, verdict = await run_load(
        legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, kill
    )
    assert verdict.again_after_kill > 0, "no kill landed mid-step"
    print(f"\nfaults (kill -9 x4 of the busiest worker): {summary}")
