"""Redis loses its data (FLUSHALL) while long steps run, twice. The steps keep their
leases (a heartbeat re-establishes them), nothing runs again, and the join state
Redis lost is rebuilt by the worker that sees the new epoch first, without waiting
for the reconciler's stall threshold (see ``tests/faults/load.py`` for the checks).
Right after each flush, every running long step gets a second job (as a redelivery
or a repair's re-drive would send it): it must not take the step before its holder
has renewed the lease it lost with the data."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as redis

from legato.config import Settings
from legato.schemas import Job
from tests.faults import ledger
from tests.faults.load import Load, run_load

pytestmark = pytest.mark.integration
LONG_STEPS = ("c2", "b0", "l")
SHAPES = {"c2": "fault_chain", "b0": "fault_fan", "l": "fault_diamond"}  # of LONG_STEPS


def duplicate(running: ledger.Execution) -> Job:
    """Another job of a running long step (``tests/faults/load.py`` has the shapes)."""
    step = running.step
    return Job(running.run, step, step, SHAPES[step], "1", attempt=running.attempt)


async def test_redis_loses_its_data_mid_step(
    legato_settings: Settings,
    cassandra_keyspace: str,
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    flushes: list[int] = []

    async def flush(load: Load) -> bool:
        # When at least 8 long steps run (several heartbeats each), and 20 ticks after
        # the first flush for the second.
        due = not flushes or load.tick >= flushes[-1] + 20
        if due and len(ledger.running(load.ledger, LONG_STEPS)) >= 8:
            client = redis.from_url(redis_url)
            await client.flushall()
            await client.aclose()
            flushes.append(load.tick)
            assert load.backend is not None
            running = ledger.running(load.ledger, LONG_STEPS)
            await load.backend.bus.publish([duplicate(e) for e in running])
        return len(flushes) < 2

    summary, verdict = await run_load(
        legato_settings, cassandra_keyspace, kafka_bootstrap, redis_url, tmp_path, flush
    )
    assert verdict.again == 0, "a step ran again after Redis lost its data"
    print(f"\nfaults (FLUSHALL x2 mid-step): {summary}")
