"""The reconciler on real servers: lost jobs and lost Redis state are repaired from
the Cassandra history; a pass scans active runs only."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

import legato
from legato.adapters import open_backend
from legato.reconciler import Reconciler
from legato.runtime.ports import Backend
from legato.schemas import Job, StepCompleted
from tests.servers import cassandra_url

pytestmark = pytest.mark.integration


class Dropping:
    """Wraps a bus; drops published jobs while ``dropping`` is set, or those of the
    steps in ``drop_steps`` (as a crash between a history write and a publish would)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.dropping = False
        self.drop_steps: set[str] = set()

    async def publish(self, jobs: Sequence[Job]) -> None:
        kept = [j for j in jobs if not self.dropping and j.step_id not in self.drop_steps]
        if kept:
            await self.bus.publish(kept)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


async def one(ctx: legato.StepContext) -> int:
    return 1


def fan_in() -> legato.Registry:
    flow = legato.Flow("recon_fan").node("a", one).node("j", one)
    for b in ("b1", "b2", "b3"):
        flow.node(b, one).edge("a", b).edge(b, "j")
    return legato.compile(flow)


@pytest.fixture
async def dist(dist_settings: Any) -> AsyncIterator[Backend]:
    d = await open_backend(dist_settings)
    yield d
    await d.close()


async def test_lost_start_job_is_resumed_by_the_cli(
    dist: Backend,
    dist_settings: Any,
) -> None:
    from dataclasses import replace

    bus = Dropping(dist.bus)
    backend = replace(dist, bus=bus)
    engine = legato.Engine(backend)
    reg = fan_in()
    bus.dropping = True
    rid = await engine.start(reg, None)  # created, but its start job is lost
    bus.dropping = False
    env = {
        **os.environ,
        "LEGATO_KAFKA": f"kafka://{dist_settings.kafka.bootstrap}?jobs_topic="
        f"{dist_settings.kafka.jobs_topic}&group={dist_settings.kafka.group}",
        "LEGATO_CASSANDRA": cassandra_url(
            dist_settings.cassandra, dist_settings.cassandra.keyspace
        ),
        "LEGATO_REDIS": dist_settings.redis.url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "legato",
        "reconcile",
        "--once",
        "--stalled-after",
        "0s",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    stats = json.loads(out.decode().strip().splitlines()[-1])
    assert stats["stalled"] >= 1 and stats["resumed"] >= 1 and stats["errors"] == 0
    engine.start_workers()
    try:
        result = await engine.wait(rid, timeout=60)
    finally:
        await engine.close()
    assert result.status == "completed"
    assert set(result.outputs) == {"a", "b1", "b2", "b3", "j"}


async def test_lost_join_state_is_rebuilt_and_the_join_fires_once(
    dist: Backend,
    dist_settings: Any,
) -> None:
    from dataclasses import replace

    import redis.asyncio as redis

    bus = Dropping(dist.bus)
    engine = legato.Engine(replace(dist, bus=bus), concurrency=8)
    engine.start_workers()
    try:
        reg = fan_in()
        bus.drop_steps = {"j"}  # b1..b3 run and arrive, but the join's job is lost...
        rid = await engine.start(reg, None)
        for _ in range(400):
            if {"b1", "b2", "b3"} <= set(await dist.store.all_steps(rid)):
                break
            await asyncio.sleep(0.05)
        bus.drop_steps = set()
        # ...and Redis forgets every join (as after FLUSHALL or a failover).
        client = redis.from_url(dist_settings.redis.url)
        keys = [k async for k in client.scan_iter(match=f"{dist_settings.redis.prefix}*")]
        assert keys
        await client.delete(*keys)
        await client.aclose()
        assert (await engine.status(rid)).status == "running"
        stats = await Reconciler(engine.backend, stalled_after=0).run_once()
        assert stats.errors == 0
        result = await engine.wait(rid, timeout=60)
    finally:
        await engine.close()
    assert result.status == "completed"
    history = await dist.store.history(rid)
    assert sum(1 for e in history if isinstance(e, StepCompleted) and e.step_id == "j") == 1


async def test_a_pass_scans_only_active_runs(dist: Backend) -> None:
    engine = legato.Engine(dist, concurrency=8)
    engine.start_workers()
    try:
        reg = legato.compile(legato.Flow("recon_scan").node("a", one))
        for _ in range(10):
            assert (await engine.run(reg, None, timeout=60)).status == "completed"
        before = len((await dist.store.list_active()).headers)
        stats = await Reconciler(engine.backend, stalled_after=3600).run_once()
    finally:
        await engine.close()
    assert stats.scanned == before  # finished runs are not in the index
    assert stats.stalled == 0
