"""`legato run` with servers configured prints what embedded prints; the Python
Client (async and sync) steers runs; durable timers fire; chaos on the Kafka bus
(duplicated, reordered, redelivered jobs) changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legato
from legato.adapters import open_backend
from legato.schemas import Job
from tests.property.dags import DagSpec, Recorder, build, dags, reference
from tests.servers import cassandra_url

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def env_for(s: Any) -> dict[str, str]:
    k = s.kafka
    return {
        **os.environ,
        "LEGATO_KAFKA": f"kafka://{k.bootstrap}?jobs_topic={k.jobs_topic}&group={k.group}"
        f"&commands_topic={k.commands_topic}",
        "LEGATO_CASSANDRA": cassandra_url(s.cassandra, s.cassandra.keyspace),
        "LEGATO_REDIS": s.redis.url,
    }


def test_legato_run_distributed_prints_the_embedded_json(dist_settings: Any) -> None:
    args = [sys.executable, "-m", "legato", "run", "etl.yaml"]
    embedded = subprocess.run(
        args,
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")},
    )
    distributed = subprocess.run(
        args, cwd=EXAMPLES, capture_output=True, text=True, timeout=120, env=env_for(dist_settings)
    )
    assert embedded.returncode == distributed.returncode == 0, distributed.stderr
    e, d = json.loads(embedded.stdout), json.loads(distributed.stdout)
    assert e["run_id"] != d["run_id"]
    del e["run_id"], d["run_id"]
    assert e == d


def test_partial_configuration_is_a_usage_error() -> None:
    env = {**os.environ, "LEGATO_KAFKA": "kafka://127.0.0.1:9092"}
    env.pop("LEGATO_CASSANDRA", None)
    env.pop("LEGATO_REDIS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "legato", "run", "etl.yaml"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "distributed mode needs all of LEGATO_KAFKA, LEGATO_CASSANDRA" in proc.stderr


async def double(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


async def test_client_registers_starts_waits_and_cancels(dist_settings: Any) -> None:
    reg = legato.compile(
        legato.Flow("client_flow").node("a", double).node("b", double).edge("a", "b")
    )
    dist = await open_backend(dist_settings)
    worker = legato.Engine(dist)
    await worker.register(reg)
    worker.start_workers()
    try:
        async with await legato.Client.connect(dist_settings) as client:
            assert await client.register(reg) == ("client_flow", "1")
            rid = await client.start("client_flow", 3, version="1", run_id="client-run-1")
            assert await client.start("client_flow", 3, run_id="client-run-1") == rid
            result = await client.wait(rid, timeout=60)
            assert result.outputs == {"a": 6, "b": 12}
            assert (await client.status(rid)).status == "completed"
            assert [type(e).__name__ for e in await client.history(rid)][-1] == "RunCompleted"
            assert not await client.cancel(rid)  # already ended
            with pytest.raises(legato.LegatoError, match="is not registered"):
                await client.start("no_such_blueprint", 1)
    finally:
        await worker.close()
        await dist.close()


def test_sync_client(dist_settings: Any) -> None:
    from legato.client import SyncClient

    client = SyncClient(dist_settings)
    try:
        rid = client.start(legato.compile(legato.Flow("sync_flow").node("a", double)), 1)
        assert client.status(rid).status == "running"  # no worker here: it waits
        assert client.cancel(rid, "not needed")
        assert client.status(rid).status == "cancelled"
    finally:
        client.close()


async def test_durable_timers_fire_after_the_worker_that_set_them_is_gone(
    dist_settings: Any,
) -> None:
    from legato.adapters.memory import MemoryJobBus

    dist = await open_backend(dist_settings)
    try:
        timers = dist.timers
        job = Job("timer-run", "s", "s", "bp", "1", deadline=time.time() + 0.3)
        await timers.schedule(time.time() + 0.3, job)
        sink = MemoryJobBus()
        assert await timers.fire_due(sink, time.time()) == 0  # not due yet
        await asyncio.sleep(0.4)
        again = await open_backend(dist_settings)  # a fresh process's view
        try:
            assert await again.timers.fire_due(sink, time.time()) == 1
            assert await again.timers.fire_due(sink, time.time()) == 0  # fired once
        finally:
            await again.close()
        assert sink.pending() == 1
    finally:
        await dist.close()


class ChaosKafka:
    """Duplicates, reorders and later re-publishes jobs on the real bus (seeded)."""

    def __init__(self, bus: Any, seed: int) -> None:
        self.bus = bus
        self.rng = random.Random(seed)

    async def publish(self, jobs: Sequence[Job]) -> None:
        batch = list(jobs) + [j for j in jobs if self.rng.random() < 0.3]
        self.rng.shuffle(batch)
        await self.bus.publish(batch)
        later = [j for j in jobs if self.rng.random() < 0.2]
        if later:
            asyncio.get_running_loop().call_later(
                0.05, lambda: asyncio.ensure_future(self.bus.publish(later))
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=dags(max_nodes=10), seed=st.integers(0, 2**16))
async def test_chaos_on_kafka_changes_nothing(
    dist_settings: Any,
    spec: DagSpec,
    seed: int,
) -> None:
    dist = await open_backend(dist_settings)
    engine = legato.Engine(replace(dist, bus=ChaosKafka(dist.bus, seed)), concurrency=16)
    engine.start_workers()
    recorder = Recorder()
    try:
        reg = build(spec, recorder)
        rid = await engine.start(reg, {"low": spec.low})
        result = await engine.wait(rid, timeout=60)
        await asyncio.sleep(0.2)  # late duplicates arrive and change nothing
    finally:
        await engine.close()
        await dist.close()
    assert result.status == "completed", result.error
    assert result.outputs == reference(spec)
    calls = [node for r, node in recorder.calls if r == rid]
    assert sorted(calls) == spec.calls(result.outputs)  # each node (and item) ran once
