"""Cassandra specifics beyond the RunStore/Timers contracts: the bucketed index of
active runs drops what it no longer needs; timers survive any downtime."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from legato.adapters.cassandra.aio import execute
from legato.adapters.cassandra.store import GRACE_BUCKETS, CassandraRunStore, bucket
from legato.adapters.cassandra.timers import CassandraTimers
from legato.adapters.memory import MemoryJobBus
from legato.schemas import Job, RunCompleted, RunHeader, RunStarted

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(cassandra_session: Any, cassandra_keyspace: str) -> CassandraRunStore:
    return await CassandraRunStore.open(cassandra_session, cassandra_keyspace)


async def rows(store: CassandraRunStore, cql: str, *params: Any) -> list[Any]:
    return await execute(store.session, cql.format(ks=store.keyspace), params)


async def test_the_active_index_drops_finished_runs_and_drained_buckets(
    store: CassandraRunStore,
) -> None:
    now = time.time()
    rid = uuid.uuid4().hex
    header = RunHeader(rid, "bp", "1", "running", None, None, now, now)
    assert await store.create_run(
        header, RunStarted(at=now, run_id=rid, blueprint_id="bp", version="1")
    )
    # An index row whose create never happened, in a bucket old enough to be settled.
    old = bucket(now) - GRACE_BUCKETS - 5
    await rows(store, "INSERT INTO {ks}.active_buckets (shard, bucket) VALUES (0, %s)", old)
    await rows(store, "INSERT INTO {ks}.active_by_minute (bucket, run_id) VALUES (%s, 'x')", old)
    assert rid in {h.run_id for h in (await store.list_active()).headers}
    assert await rows(store, "SELECT * FROM {ks}.active_by_minute WHERE bucket = %s", old) == []
    assert await store.finish_run(rid, "completed", RunCompleted(at=now), None)
    index = "SELECT run_id FROM {ks}.active_by_minute WHERE bucket = %s"
    assert await rows(store, index, bucket(now)) == []
    await store.list_active()
    listed = [r.bucket for r in await rows(store, "SELECT bucket FROM {ks}.active_buckets")]
    assert old not in listed and bucket(now) in listed  # the current one may still fill


async def test_timers_fire_however_long_the_pollers_were_away(
    cassandra_session: Any, cassandra_keyspace: str
) -> None:
    first = await CassandraTimers.open(cassandra_session, cassandra_keyspace)
    job = Job(uuid.uuid4().hex, "s", "s", "bp", "1")
    await first.schedule(time.time() + 90, job)
    # A poller started two days later (a fresh process) still finds it ...
    later = await CassandraTimers.open(cassandra_session, cassandra_keyspace)
    bus = MemoryJobBus()
    assert await later.fire_due(bus, time.time() + 2 * 86400) == 1
    assert [d.job for d in bus.take()] == [job]
    # ... and the drained bucket is unregistered, so no poller reads it again.
    regs = await execute(
        cassandra_session, f"SELECT bucket FROM {cassandra_keyspace}.timer_buckets", ()
    )
    assert regs == []
    assert await later.fire_due(bus, time.time() + 2 * 86400) == 0


async def test_a_run_without_the_header_row_is_still_read(store: CassandraRunStore) -> None:
    """Runs written before the header row existed fall back to the header query."""
    now = time.time()
    rid = uuid.uuid4().hex
    header = RunHeader(rid, "bp", "1", "running", {"n": 1}, None, now, now)
    await store.create_run(header, RunStarted(at=now, run_id=rid, blueprint_id="bp", version="1"))
    found = (await store.read_step(rid, "a", [])).header
    assert found is not None and found.input == {"n": 1}
    await rows(store, "DELETE FROM {ks}.runs WHERE run_id = %s AND kind = 1 AND k1 = ''", rid)
    view = await store.read_step(rid, "a", ["b"])
    found = view.header
    assert found is not None and (found.run_id, found.input) == (rid, {"n": 1})
    assert (view.record, view.inputs, view.failure) == (None, {}, None)
    assert await store.all_steps(rid) == {}
