"""The Cassandra run index beyond the contract: retention TTLs written when a run
ends, and an end interrupted before the index, finished by ``list_active``."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from legato.adapters.cassandra.store import CassandraRunStore
from legato.runtime.runindex import RunQuery, RunSummary, bucket, started_ms
from legato.schemas import (
    ContextWrite,
    RunCompleted,
    RunHeader,
    RunStarted,
    StepCompleted,
    StepRecord,
)
from legato.testing.contract.runindex import span, window

pytestmark = pytest.mark.integration


async def new_run(store: CassandraRunStore, blueprint: str, at: float | None = None) -> str:
    rid = uuid.uuid4().hex
    now = time.time() if at is None else at
    header = RunHeader(rid, blueprint, "1", "running", {"n": 1}, None, now, now)
    assert await store.create_run(
        header, RunStarted(at=now, run_id=rid, blueprint_id=blueprint, version="1")
    )
    return rid


def ttls(session: Any, ks: str, run_id: str, blueprint: str) -> dict[str, list[int | None]]:
    """TTLs of the run's partition rows, header and index rows (None: no TTL)."""
    rows = session.execute(
        f"SELECT TTL(data), TTL(fence) FROM {ks}.runs WHERE run_id = %s", [run_id]
    )
    header = session.execute(
        f"SELECT TTL(status) FROM {ks}.runs WHERE run_id = %s LIMIT 1", [run_id]
    )
    (created,) = session.execute(
        f"SELECT created_at FROM {ks}.runs WHERE run_id = %s LIMIT 1", [run_id]
    ).one()
    b = bucket(started_ms((created - datetime(1970, 1, 1)).total_seconds()))
    index = [
        r[0]
        for scope in ("*", f"b/{blueprint}", "s/completed", f"bs/completed/{blueprint}")
        for r in session.execute(
            f"SELECT TTL(status), run_id FROM {ks}.run_index WHERE scope = %s AND bucket = %s",
            [scope, b],
        )
        if r[1] == run_id
    ]
    return {
        "rows": [r[0] if r[0] is not None else r[1] for r in rows],
        "header": [r[0] for r in header],
        "index": index,
    }


async def test_a_finished_run_gets_the_retention_ttl_everywhere(
    cassandra_session: Any, cassandra_keyspace: str
) -> None:
    ks = cassandra_keyspace
    store = await CassandraRunStore.open(cassandra_session, ks, retention=3600)
    bp = uuid.uuid4().hex
    rid = await new_run(store, bp)
    other = await new_run(store, bp)
    now = time.time()
    event = StepCompleted(at=now, step_id="a", node="a", attempt=1, output=1)
    await store.claim_step(rid, "a", 4)
    await store.resolve_step(
        rid, "a", StepRecord("done", "a", 1), event, [ContextWrite("k", "a", 2)], 4
    )
    before = ttls(cassandra_session, ks, rid, bp)
    assert set(before["rows"]) == {None} and before["header"] == [None]
    assert await store.finish_run(rid, "completed", RunCompleted(at=time.time()), None)
    after = ttls(cassandra_session, ks, rid, bp)
    for part, values in after.items():
        assert values and all(v is not None and 3000 < v <= 3600 for v in values), (part, values)
    assert len(after["index"]) == 4
    # The history still reads as it did; a running run of the same blueprint has no TTL.
    assert [type(e).__name__ for e in await store.history(rid)] == [
        "RunStarted",
        "StepCompleted",
        "RunCompleted",
    ]
    assert (await store.get_run(rid)).status == "completed"
    assert set(ttls(cassandra_session, ks, other, bp)["rows"]) == {None}


async def test_no_retention_writes_no_ttl(cassandra_session: Any, cassandra_keyspace: str) -> None:
    store = await CassandraRunStore.open(cassandra_session, cassandra_keyspace)
    bp = uuid.uuid4().hex
    rid = await new_run(store, bp)
    assert await store.finish_run(rid, "completed", RunCompleted(at=time.time()), None)
    got = ttls(cassandra_session, cassandra_keyspace, rid, bp)
    assert set(got["rows"]) == {None} and set(got["index"]) == {None} and len(got["index"]) == 4


async def test_list_active_finishes_an_end_interrupted_before_the_index(
    cassandra_session: Any, cassandra_keyspace: str
) -> None:
    ks = cassandra_keyspace
    store = await CassandraRunStore.open(cassandra_session, ks)
    start = window()
    rid = await new_run(store, "crash", at=start + 1)
    # A worker ended the run (its conditional status write) and died before the index.
    cassandra_session.execute(
        f"UPDATE {ks}.runs SET status = 'completed' WHERE run_id = %s IF status = 'running'",
        [rid],
    )
    assert (await store.get_run(rid)).status == "completed"

    async def listed(status: str) -> list[RunSummary]:
        return (await store.list_runs(RunQuery(status=status, **span(start)))).runs

    assert [r.run_id for r in await listed("running")] == [rid]  # stale, for now
    after = None
    while True:  # the reconciler's pass
        page = await store.list_active(limit=500, after=after)
        if page.after is None:
            break
        after = page.after
    assert await listed("running") == []
    assert [(r.run_id, r.status) for r in await listed("completed")] == [(rid, "completed")]
