"""RunStore and BlueprintStore on Cassandra (tables in ``cql/``).

One partition per run: the header in static columns, then rows by ``kind``
(0 event, 1 step record, 2 context write, 3 signal, 4 signal waiter, 5 signal
consumed, 6 signal dedupe key, 7 a job held while the run is paused, 8 foreach
item: k1 the foreach step, k2 its position zero-padded so that it sorts). A step's
writes (record, event, context writes, ``updated_at``) go in one single-partition
batch, conditional on the step record not existing yet and on the run existing
(a lightweight transaction), so the first resolution wins and the batch is atomic
and isolated. Steps read only the rows they need (``get_steps``/``get_context``
by clustering key), so their cost does not grow with the length of the run.

Fencing (the contract of ``legato.runtime.ports``): ``claim_step`` writes the
step's claim row (kind 1, k2 ``c``) with the lease token in its ``fence`` column,
``USING TIMESTAMP`` 2**62 + token, so the newest token wins whatever the writers'
clocks (a claim is a plain write: no Paxos round). A fenced write adds to its
conditional batch ``IF fence = <token>`` on that row: a worker whose lease was
taken over writes nothing and gets ``FencingError``. Every write of the run's
static columns (status, ``updated_at``, parking) is conditional, so all of them
are ordered by Paxos, never mixed with plain writes' client timestamps.

Running runs are indexed by minute bucket of their start (``cql/0002``): the
index row is written before the run (so a run is never unindexed) and deleted
when it finishes; ``list_active`` reads only buckets that may still hold running
runs and drops drained buckets and stale rows as it goes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from cassandra.query import BatchStatement, BatchType

from legato.adapters.cassandra.aio import check_keyspace, execute, prepare_all
from legato.adapters.cassandra.retention import Retention
from legato.adapters.cassandra.runindex import CassandraRunIndex
from legato.runtime.errors import FencingError, RunNotFoundError, SignalTakenError
from legato.runtime.pausing import held_key
from legato.runtime.ports import ActivePage, BlueprintInfo, RunPage, RunQuery, StepView
from legato.runtime.steps import StepId
from legato.runtime.versions import version_key
from legato.schemas import (
    TERMINAL_STATUSES,
    Blueprint,
    ContextWrite,
    Event,
    Job,
    RunHeader,
    RunRetried,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)
from legato.schemas.schedules import Schedule

EVENT, STEP, CONTEXT, SIGNAL, WAITER, CONSUMED, DEDUPE, HELD, ITEM = 0, 1, 2, 3, 4, 5, 6, 7, 8
_ITEM_BATCH = 100  # foreach items per (unlogged, single-partition) batch
_ITEM_KEY = "{:012d}"
# A step-kind row every run has (written with it), never a step id: reading it with
# a step's records returns the run's static header columns in the same query.
HEADER_ROW = ""
# Within a step's rows (kind 1, k1 = step id), k2 tells them apart.
RECORD, CLAIM, FAILURE = "", "c", "f"
CLAIM_TIMESTAMP = 1 << 62  # + token: claims win over any clock-stamped write, newest first
BUCKET_SECONDS = 60
# A bucket this many buckets old is no longer written by a create_run in flight (a
# create writes its index row before the run; clocks may disagree by a few seconds).
GRACE_BUCKETS = 10
_LOOKUPS = 32  # concurrent header reads in list_active

_enc = msgspec.msgpack.Encoder()
_dec_event = msgspec.msgpack.Decoder(Event)
_dec_record = msgspec.msgpack.Decoder(StepRecord)
_dec_job = msgspec.msgpack.Decoder(Job)
_dec_failed = msgspec.msgpack.Decoder(StepFailed)
_dec_schedule = msgspec.msgpack.Decoder(Schedule)
_dec_any = msgspec.msgpack.Decoder()
_last_ns = 0


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _secs(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return value.replace(tzinfo=UTC).timestamp() if value.tzinfo is None else value.timestamp()


def _new_tag() -> None:
    global _tag
    _tag = os.urandom(6).hex()


_tag = ""
_new_tag()
os.register_at_fork(after_in_child=_new_tag)


def _seq() -> str:
    """Sortable, unique event keys: nanoseconds (strictly increasing within a process)
    then this process's random tag (unique across processes; a forked child draws its
    own). One urandom call per process, not per event: it costs a syscall."""
    global _last_ns
    _last_ns = max(time.time_ns(), _last_ns + 1)
    return f"{_last_ns:020d}{_tag}"


def bucket(seconds: float) -> int:
    """The minute bucket of a unix time."""
    return int(seconds // BUCKET_SECONDS)


def _header(run_id: str, r: Any) -> RunHeader | None:
    """A run's header from a row carrying the static columns (None: no such run)."""
    if r.blueprint_id is None:
        return None
    return RunHeader(
        run_id,
        r.blueprint_id,
        r.blueprint_version,
        r.status,
        _dec_any.decode(r.input) if r.input else None,
        r.error,
        _secs(r.created_at),
        _secs(r.updated_at),
        _secs(r.parked_at),
        _secs(r.parked_until) if r.parked_until is not None else None,
    )


_STATICS = (
    "blueprint_id, blueprint_version, input, status, error, created_at, updated_at, "
    "parked_at, parked_until"
)
_CREATE = "blueprint_id, blueprint_version, input, status, error, created_at, updated_at"


def statements(ks: str) -> dict[str, str]:
    """Every CQL statement of the store, qualified with keyspace ``ks``."""
    check_keyspace(ks)
    return {
        "create": f"INSERT INTO {ks}.runs (run_id, {_CREATE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "IF NOT EXISTS",
        "row": f"INSERT INTO {ks}.runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?)",
        "row_once": f"INSERT INTO {ks}.runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?) "
        "IF NOT EXISTS",
        "claim": f"INSERT INTO {ks}.runs (run_id, kind, k1, k2, fence) VALUES (?, {STEP}, ?, "
        f"'{CLAIM}', ?) USING TIMESTAMP ?",
        "fenced": f"UPDATE {ks}.runs SET fence = ? WHERE run_id = ? AND kind = {STEP} "
        f"AND k1 = ? AND k2 = '{CLAIM}' IF fence = ?",
        "park": f"UPDATE {ks}.runs SET parked_at = ?, parked_until = ? WHERE run_id = ? "
        "IF status = 'running'",
        # The run must exist: a conditional batch may hold conditions on several rows
        # of its partition, and this one rides on the step row's Paxos round.
        "touch_if": f"UPDATE {ks}.runs SET updated_at = ? WHERE run_id = ? IF blueprint_id != null",
        "finish": f"UPDATE {ks}.runs SET status = ?, error = ?, updated_at = ? WHERE run_id = ? "
        "IF status IN ('running', 'paused')",
        "set_status": f"UPDATE {ks}.runs SET status = ?, updated_at = ? WHERE run_id = ? "
        "IF status = ?",
        "reopen": f"UPDATE {ks}.runs SET status = 'running', error = null, updated_at = ? "
        "WHERE run_id = ? IF status = ?",
        "failures_del": f"DELETE FROM {ks}.runs WHERE run_id = ? AND kind = {STEP} AND k1 = ? "
        f"AND k2 >= '{FAILURE}' AND k2 < 'g'",
        "header": f"SELECT DISTINCT run_id, {_STATICS} FROM {ks}.runs WHERE run_id = ?",
        "rows_in": f"SELECT k1, k2, data FROM {ks}.runs WHERE run_id = ? AND kind = ? AND k1 IN ?",
        "rows_one": f"SELECT k1, k2, data FROM {ks}.runs WHERE run_id = ? AND kind = ? AND k1 = ?",
        "head_rows": f"SELECT k1, k2, data, {_STATICS} FROM {ks}.runs "
        "WHERE run_id = ? AND kind = ? AND k1 IN ?",
        "rows_all": f"SELECT k1, k2, data FROM {ks}.runs WHERE run_id = ? AND kind = ?",
        "signals": f"SELECT kind, k2, data FROM {ks}.runs WHERE run_id = ? "
        f"AND kind IN ({SIGNAL}, {CONSUMED}) AND k1 = ?",
        "consumer": f"SELECT data FROM {ks}.runs WHERE run_id = ? AND kind = {CONSUMED} "
        "AND k1 = ? AND k2 = ?",
        "row_del": f"DELETE FROM {ks}.runs WHERE run_id = ? AND kind = ? AND k1 = ? AND k2 = ?",
        "rows_range": f"SELECT k2, data FROM {ks}.runs WHERE run_id = ? AND kind = ? "
        "AND k1 = ? AND k2 >= ? AND k2 < ?",
        "active_add": f"INSERT INTO {ks}.active_by_minute (bucket, run_id) VALUES (?, ?)",
        "active_del": f"DELETE FROM {ks}.active_by_minute WHERE bucket = ? AND run_id = ?",
        "active_list": f"SELECT run_id FROM {ks}.active_by_minute WHERE bucket = ? "
        "AND run_id > ? LIMIT ?",
        "buckets_add": f"INSERT INTO {ks}.active_buckets (shard, bucket) VALUES (0, ?)",
        "buckets_del": f"DELETE FROM {ks}.active_buckets WHERE shard = 0 AND bucket = ?",
        "buckets_list": f"SELECT bucket FROM {ks}.active_buckets WHERE shard = 0 AND bucket >= ?",
        "ev_wait_add": f"INSERT INTO {ks}.event_waiters (name, key, run_id, step_id, job) "
        "VALUES (?, ?, ?, ?, ?)",
        "ev_wait_del": f"DELETE FROM {ks}.event_waiters WHERE name = ? AND key = ? "
        "AND run_id = ? AND step_id = ?",
        "ev_waiters": f"SELECT job FROM {ks}.event_waiters WHERE name = ? AND key = ?",
        "ev_retain": f"INSERT INTO {ks}.retained_events (name, key, id, data, until) "
        "VALUES (?, ?, ?, ?, ?) USING TTL ?",
        "ev_retained": f"SELECT id, data, until FROM {ks}.retained_events "
        "WHERE name = ? AND key = ?",
        "bp_put": f"INSERT INTO {ks}.blueprints (id, version, body, created_at) "
        "VALUES (?, ?, ?, ?) IF NOT EXISTS",
        "bp_get": f"SELECT body FROM {ks}.blueprints WHERE id = ? AND version = ?",
        "sc_put": f"INSERT INTO {ks}.schedules (shard, name, body) VALUES (0, ?, ?)",
        "sc_get": f"SELECT name, body, armed FROM {ks}.schedules WHERE shard = 0 AND name = ?",
        "sc_list": f"SELECT name, body, armed FROM {ks}.schedules WHERE shard = 0",
        "sc_del": f"DELETE FROM {ks}.schedules WHERE shard = 0 AND name = ? IF EXISTS",
        "sc_arm": f"UPDATE {ks}.schedules SET armed = ? WHERE shard = 0 AND name = ? "
        "IF body != null AND armed = ?",
        "bp_index": f"INSERT INTO {ks}.blueprint_index (shard, id, version, registered_at) "
        "VALUES (0, ?, ?, ?) IF NOT EXISTS",
        "bp_list": f"SELECT id, version, registered_at, active FROM {ks}.blueprint_index "
        "WHERE shard = 0",
        "bp_list_id": f"SELECT id, version, registered_at, active FROM {ks}.blueprint_index "
        "WHERE shard = 0 AND id = ?",
        "bp_active": f"UPDATE {ks}.blueprint_index SET active = ? WHERE shard = 0 AND id = ? "
        "AND version = ? IF EXISTS",
    }


class CassandraRunStore:
    """The run history in Cassandra. Build with ``await CassandraRunStore.open(...)``."""

    def __init__(
        self,
        session: Any,
        keyspace: str,
        prepared: dict[str, Any],
        index: CassandraRunIndex,
        retention: Retention | None = None,
    ) -> None:
        self.session = session
        self.keyspace = keyspace
        self._q = prepared
        self._index = index
        self._retention = retention

    @classmethod
    async def open(
        cls, session: Any, keyspace: str, *, retention: float | None = None
    ) -> CassandraRunStore:
        """Prepare every statement (in a thread: preparing blocks). ``retention``:
        seconds a finished run's history and index rows are kept (None: for ever)."""
        cql = statements(keyspace)
        prepared = await prepare_all(session, cql)
        index = await CassandraRunIndex.open(session, keyspace, retention)
        kept = await Retention.open(session, keyspace, int(retention)) if retention else None
        return cls(session, keyspace, prepared, index, kept)

    async def _ended(self, header: RunHeader, status: str, ended_at: float) -> None:
        """What follows a run's end in its partition: the index, then the TTLs."""
        await self._index.ended(header, status, ended_at)
        if self._retention is not None:
            await self._retention.expire(header.run_id)

    async def _run(self, name: str, params: Sequence[Any]) -> list[Any]:
        return await execute(self.session, self._q[name], params)

    def _batch(self) -> BatchStatement:
        return BatchStatement(batch_type=BatchType.LOGGED)

    # -- runs ----------------------------------------------------------------------------

    async def create_run(self, header: RunHeader, event: RunStarted) -> bool:
        b = bucket(header.created_at)
        # Index first: a crash after it leaves a stale row (dropped by list_active),
        # a crash before the run never leaves a running run unindexed.
        await asyncio.gather(
            self._run("buckets_add", (b,)), self._run("active_add", (b, header.run_id))
        )
        batch = self._batch()
        batch.add(
            self._q["create"],
            (
                header.run_id,
                header.blueprint_id,
                header.version,
                _enc.encode(header.input),
                header.status,
                header.error,
                _ts(header.created_at),
                _ts(header.updated_at),
            ),
        )
        batch.add(self._q["row"], (header.run_id, EVENT, _seq(), "", _enc.encode(event)))
        batch.add(self._q["row"], (header.run_id, STEP, HEADER_ROW, "", b""))
        rows = await execute(self.session, batch)
        if not (rows and rows[0].applied):
            return False
        # After the run exists: a repeated create (same run id) indexes nothing twice.
        await self._index.created(header)
        return True

    async def get_run(self, run_id: str) -> RunHeader | None:
        rows = await self._run("header", (run_id,))
        return _header(run_id, rows[0]) if rows else None

    async def read_step(
        self, run_id: str, step_id: str, inputs: Sequence[str], *, claim: int | None = None
    ) -> StepView:
        reading = self._run("head_rows", (run_id, STEP, [HEADER_ROW, step_id, *inputs]))
        if claim is None:
            rows = await reading
        else:  # one round trip: the claim does not depend on the read
            rows, _ = await asyncio.gather(reading, self.claim_step(run_id, step_id, claim))
        head = next((r for r in rows if r.k1 == HEADER_ROW), None)
        if head is None:  # no such run (or one written before HEADER_ROW existed)
            header = await self.get_run(run_id)
        else:
            header = _header(run_id, head)
        if header is None:
            return StepView(None, None, {}, None)
        record, failure, found, claimed = None, None, {}, False
        for r in rows:
            if r.k2 == RECORD and r.k1 != HEADER_ROW:
                rec = _dec_record.decode(r.data)
                if r.k1 == step_id:
                    record = rec
                else:
                    found[r.k1] = rec
            elif r.k1 == step_id:
                if r.k2 == CLAIM:
                    claimed = True
                elif r.k2.startswith(FAILURE):
                    failure = r.data  # rows come in k2 order: the last is the last attempt
        return StepView(
            header,
            record,
            found,
            _dec_failed.decode(failure) if failure is not None else None,
            claimed,
        )

    async def _require(self, run_id: str) -> None:
        if await self.get_run(run_id) is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")

    async def get_steps(self, run_id: str, step_ids: Sequence[str]) -> dict[str, StepRecord]:
        if not step_ids:
            return {}
        if len(step_ids) == 1:
            rows = await self._run("rows_one", (run_id, STEP, step_ids[0]))
        else:
            rows = await self._run("rows_in", (run_id, STEP, list(step_ids)))
        return {r.k1: _dec_record.decode(r.data) for r in rows if r.k2 == RECORD}

    async def get_context(self, run_id: str, keys: Sequence[str]) -> dict[str, list[ContextWrite]]:
        if not keys:
            return {}
        rows = await self._run("rows_in", (run_id, CONTEXT, list(keys)))
        out: dict[str, list[ContextWrite]] = {}
        for r in rows:
            out.setdefault(r.k1, []).append(ContextWrite(r.k1, r.k2, _dec_any.decode(r.data)))
        return out

    async def claim_step(self, run_id: str, step_id: str, fence: int) -> None:
        await self._run("claim", (run_id, step_id, fence, CLAIM_TIMESTAMP + fence))

    def _fence(self, batch: BatchStatement, run_id: str, step_id: str, fence: int) -> None:
        batch.add(self._q["fenced"], (fence, run_id, step_id, fence))

    async def _refused(self, run_id: str, step_id: str, fence: int | None) -> None:
        """A conditional write was not applied and the step is unresolved: say why."""
        if await self.get_run(run_id) is None:
            raise RunNotFoundError(f"cannot write {step_id}: run {run_id!r} not found")
        if fence is not None:
            raise FencingError(f"stale lease token {fence} for {run_id}/{step_id}")

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
        consume: tuple[str, str] | None = None,
    ) -> StepRecord:
        encoded = _enc.encode(record)
        batch = self._batch()
        batch.add(self._q["row_once"], (run_id, STEP, step_id, RECORD, encoded))
        if consume is not None:  # the signal's consumption rides on the same Paxos round
            name, sid = consume
            batch.add(self._q["row_once"], (run_id, CONSUMED, name, sid, step_id.encode()))
            batch.add(self._q["row_del"], (run_id, WAITER, name, step_id))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        for w in context:
            batch.add(self._q["row"], (run_id, CONTEXT, w.key, w.step_id, _enc.encode(w.value)))
        batch.add(self._q["touch_if"], (_ts(event.at), run_id))
        if fence is not None:
            self._fence(batch, run_id, step_id, fence)
        rows = await execute(self.session, batch)
        if rows and rows[0].applied:
            return _dec_record.decode(encoded)
        existing = await self.get_steps(run_id, (step_id,))
        if step_id in existing:
            return existing[step_id]
        if consume is not None:
            taken = await self._run("consumer", (run_id, *consume))
            if taken and taken[0].data.decode() != step_id:
                raise SignalTakenError(
                    f"signal {consume[0]!r} {consume[1]} went to {taken[0].data.decode()}"
                )
        await self._refused(run_id, step_id, fence)
        raise RunNotFoundError(f"cannot resolve {step_id} of run {run_id!r}")

    async def record_failure(
        self, run_id: str, event: StepFailed, fence: int | None = None
    ) -> None:
        batch = self._batch()
        encoded = _enc.encode(event)
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", encoded))
        if StepId.parse(event.step_id).node == event.node:  # not a fallback's failure
            failure = f"{FAILURE}{event.attempt:06d}"
            batch.add(self._q["row"], (run_id, STEP, event.step_id, failure, encoded))
        batch.add(self._q["touch_if"], (_ts(event.at), run_id))
        if fence is not None:
            self._fence(batch, run_id, event.step_id, fence)
        rows = await execute(self.session, batch)
        if not rows or not rows[0].applied:
            await self._refused(run_id, event.step_id, fence)

    async def append_event(self, run_id: str, event: Event) -> None:
        await self._run("row", (run_id, EVENT, _seq(), "", _enc.encode(event)))

    async def add_event_waiter(self, name: str, key: str, job: Job) -> None:
        await self._run("ev_wait_add", (name, key, job.run_id, job.step_id, _enc.encode(job)))

    async def remove_event_waiter(self, name: str, key: str, run_id: str, step_id: str) -> None:
        await self._run("ev_wait_del", (name, key, run_id, step_id))

    async def event_waiters(self, name: str, key: str) -> list[Job]:
        return [_dec_job.decode(r.job) for r in await self._run("ev_waiters", (name, key))]

    async def retain_event(
        self, name: str, key: str, event_id: str, data: Any, until: float
    ) -> None:
        ttl = max(1, int(until - time.time()) + 1)  # the row outlives `until` a little
        await self._run("ev_retain", (name, key, event_id, _enc.encode(data), _ts(until), ttl))

    async def retained_events(self, name: str, key: str, now: float) -> list[tuple[str, Any]]:
        rows = await self._run("ev_retained", (name, key))
        return [(r.id, _dec_any.decode(r.data)) for r in rows if _secs(r.until) > now]

    async def finish_run(
        self,
        run_id: str,
        status: str,
        event: Event,
        error: str | None,
        fence: tuple[str, int] | None = None,
    ) -> bool:
        header = await self.get_run(run_id)
        if header is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")
        if header.status not in ("running", "paused"):
            return False
        batch = self._batch()
        batch.add(self._q["finish"], (status, error, _ts(event.at), run_id))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        if fence is not None:
            self._fence(batch, run_id, *fence)
        rows = await execute(self.session, batch)
        if not rows or not rows[0].applied:
            now = await self.get_run(run_id)
            if fence is not None and now is not None and now.status in ("running", "paused"):
                raise FencingError(f"stale lease token {fence[1]} for {run_id}/{fence[0]}")
            return False
        await self._ended(header, status, event.at)
        await self._run("active_del", (bucket(header.created_at), run_id))
        return True

    async def list_runs(self, query: RunQuery) -> RunPage:
        return await self._index.page(query)

    async def park(self, run_id: str, progress_at: float, until: float | None) -> None:
        await self._run(
            "park", (_ts(progress_at), _ts(until) if until is not None else None, run_id)
        )

    async def set_status(self, run_id: str, expected: str, status: str, event: Event) -> bool:
        batch = self._batch()
        batch.add(self._q["set_status"], (status, _ts(event.at), run_id, expected))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        rows = await execute(self.session, batch)
        return bool(rows and rows[0].applied)

    async def reopen_run(
        self,
        run_id: str,
        expected: str,
        event: RunRetried,
        context: Sequence[tuple[str, str]] = (),
    ) -> bool:
        header = await self.get_run(run_id)
        if header is None:
            raise RunNotFoundError(f"run {run_id!r} does not exist")
        if header.status != expected or expected not in TERMINAL_STATUSES:
            return False
        b = bucket(header.created_at)  # indexed first, as by create_run
        await asyncio.gather(self._run("buckets_add", (b,)), self._run("active_add", (b, run_id)))
        batch = self._batch()
        batch.add(self._q["reopen"], (_ts(event.at), run_id, expected))
        for sid in event.reset:
            batch.add(self._q["row_del"], (run_id, STEP, sid, RECORD))
            batch.add(self._q["failures_del"], (run_id, sid))
        for key, sid in context:
            batch.add(self._q["row_del"], (run_id, CONTEXT, key, sid))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        rows = await execute(self.session, batch)
        return bool(rows and rows[0].applied)

    async def hold_job(self, run_id: str, job: Job) -> None:
        await self._run("row", (run_id, HELD, held_key(job), "", _enc.encode(job)))

    async def held_jobs(self, run_id: str) -> list[Job]:
        return [_dec_job.decode(r.data) for r in await self._run("rows_all", (run_id, HELD))]

    async def drop_held(self, run_id: str, jobs: Sequence[Job]) -> None:
        await asyncio.gather(*(self._run("row_del", (run_id, HELD, held_key(j), "")) for j in jobs))

    async def history(self, run_id: str) -> list[Event]:
        rows = await self._run("rows_all", (run_id, EVENT))
        if not rows:
            await self._require(run_id)
        return [_dec_event.decode(r.data) for r in rows]

    async def all_steps(self, run_id: str) -> dict[str, StepRecord]:
        rows = await self._run("rows_all", (run_id, STEP))
        return {
            r.k1: _dec_record.decode(r.data) for r in rows if r.k1 != HEADER_ROW and r.k2 == RECORD
        }

    async def list_active(self, limit: int = 1000, after: str | None = None) -> ActivePage:
        """Buckets in order, run ids in order within each; ``after`` is
        ``"<bucket>:<run id>"`` of the last run returned."""
        old = bucket(time.time()) - GRACE_BUCKETS
        sem = asyncio.Semaphore(_LOOKUPS)

        async def header(run_id: str) -> RunHeader | None:
            async with sem:
                return await self.get_run(run_id)

        start_bucket, last = 0, ""
        if after:
            b, _, last = after.partition(":")
            start_bucket = int(b)
        out: list[RunHeader] = []
        for b in [r.bucket for r in await self._run("buckets_list", (start_bucket,))]:
            since = last if b == start_bucket else ""
            while True:
                rows = await self._run("active_list", (b, since, limit))
                ids = [r.run_id for r in rows]
                if not ids:
                    if not since and b < old:
                        await self._run("buckets_del", (b,))  # drained: never read again
                    break
                stale: list[str] = []
                for run_id, h in zip(ids, await asyncio.gather(*map(header, ids)), strict=True):
                    if h is not None and h.status == "paused" and bucket(h.created_at) == b:
                        continue  # still active, but nothing for the reconciler
                    if h is not None and h.status == "running" and bucket(h.created_at) == b:
                        out.append(h)
                    elif h is not None or b < old:
                        if h is not None and h.status != "running":
                            # Its end may have stopped before the index: finish that.
                            running = msgspec.structs.replace(h, status="running")
                            await self._ended(running, h.status, h.updated_at)
                        # Finished, a create that never happened, or a repeated create of
                        # an existing run id (its row went to another bucket).
                        stale.append(run_id)
                await asyncio.gather(*(self._run("active_del", (b, i)) for i in stale))
                since = ids[-1]
                if len(out) >= limit:
                    return ActivePage(out, f"{b}:{since}")
                if len(ids) < limit:
                    break
        return ActivePage(out)

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> RunHeader:
        async def poll() -> RunHeader:
            delay = 0.02
            while True:
                header = await self.get_run(run_id)
                if header is None:
                    raise RunNotFoundError(f"run {run_id!r} does not exist")
                if header.status in TERMINAL_STATUSES:
                    return header
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.5)

        return await asyncio.wait_for(poll(), timeout)

    # -- signals -------------------------------------------------------------------------

    async def put_signal(
        self, run_id: str, name: str, data: Any, event: SignalReceived, dedupe: str | None = None
    ) -> str | None:
        sid = _seq()
        stamped = msgspec.structs.replace(event, id=sid)
        batch = self._batch()
        if dedupe is not None:  # conditional: the batch applies once per dedupe key
            batch.add(self._q["row_once"], (run_id, DEDUPE, name, dedupe, b""))
        batch.add(self._q["row"], (run_id, SIGNAL, name, sid, _enc.encode(data)))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(stamped)))
        rows = await execute(self.session, batch)
        if dedupe is not None and not (rows and rows[0].applied):
            return None
        return sid

    async def next_signal(self, run_id: str, name: str) -> tuple[str, Any] | None:
        rows = await self._run("signals", (run_id, name))
        consumed = {r.k2 for r in rows if r.kind == CONSUMED}
        for r in rows:  # kind 3 rows first, each name's in id order
            if r.kind == SIGNAL and r.k2 not in consumed:
                return r.k2, _dec_any.decode(r.data)
        return None

    async def put_items(self, run_id: str, step_id: str, start: int, items: Sequence[Any]) -> None:
        batches = []
        for first in range(0, len(items), _ITEM_BATCH):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for i, item in enumerate(items[first : first + _ITEM_BATCH], start + first):
                key = _ITEM_KEY.format(i)
                batch.add(self._q["row"], (run_id, ITEM, step_id, key, _enc.encode(item)))
            batches.append(batch)
        head, last = batches[:-1], batches[-1:]
        for first in range(0, len(head), 16):  # a few batches in flight at once
            await asyncio.gather(*(execute(self.session, b) for b in head[first : first + 16]))
        for b in last:  # the last position is written last (see the port)
            await execute(self.session, b)

    async def get_items(self, run_id: str, step_id: str, start: int, stop: int) -> list[Any]:
        lo, hi = _ITEM_KEY.format(start), _ITEM_KEY.format(stop)
        rows = await self._run("rows_range", (run_id, ITEM, step_id, lo, hi))
        return [_dec_any.decode(r.data) for r in rows]

    async def add_waiter(self, run_id: str, name: str, job: Job) -> None:
        await self._run("row", (run_id, WAITER, name, job.step_id, _enc.encode(job)))

    async def get_waiters(self, run_id: str, name: str) -> list[Job]:
        return [
            _dec_job.decode(r.data) for r in await self._run("rows_one", (run_id, WAITER, name))
        ]

    # -- resource ------------------------------------------------------------------------

    async def probe(self) -> str | None:
        hosts = self.session.cluster.metadata.all_hosts()
        return None if any(h.is_up for h in hosts) else "Cassandra: no host is up"

    async def close(self) -> None:
        return None  # the session belongs to the connection (``CassandraConnection``)

    # -- blueprints ----------------------------------------------------------------------

    async def put_blueprint(self, blueprint: Blueprint) -> None:
        now = _ts(time.time())
        await self._run("bp_put", (blueprint.id, blueprint.version, _enc.encode(blueprint), now))
        # After the body: a crash between the two leaves a version that is not listed
        # until it is registered again, never a listed version without a body.
        await self._run("bp_index", (blueprint.id, blueprint.version, now))

    async def get_blueprint(self, blueprint_id: str, version: str) -> Blueprint | None:
        rows = await self._run("bp_get", (blueprint_id, version))
        return msgspec.msgpack.decode(rows[0].body, type=Blueprint) if rows else None

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule) -> None:
        await self._run("sc_put", (schedule.name, _enc.encode(schedule)))

    async def get_schedule(self, name: str) -> tuple[Schedule, float | None] | None:
        rows = [r for r in await self._run("sc_get", (name,)) if r.body is not None]
        return (_dec_schedule.decode(rows[0].body), rows[0].armed) if rows else None

    async def list_schedules(self) -> list[tuple[Schedule, float | None]]:
        rows = await self._run("sc_list", ())
        return [(_dec_schedule.decode(r.body), r.armed) for r in rows if r.body is not None]

    async def delete_schedule(self, name: str) -> bool:
        rows = await self._run("sc_del", (name,))
        return bool(rows and rows[0].applied)

    async def arm_schedule(self, name: str, expected: float | None, tick: float) -> bool:
        rows = await self._run("sc_arm", (tick, name, expected))
        return bool(rows and rows[0].applied)

    async def list_blueprints(self, blueprint_id: str | None = None) -> list[BlueprintInfo]:
        rows = await (
            self._run("bp_list", ())
            if blueprint_id is None
            else self._run("bp_list_id", (blueprint_id,))
        )
        found = [
            BlueprintInfo(r.id, r.version, r.active is not False, _secs(r.registered_at))
            for r in rows
        ]
        return sorted(found, key=lambda i: (i.id, version_key(i.version)))

    async def set_blueprint_active(self, blueprint_id: str, version: str, active: bool) -> bool:
        rows = await self._run("bp_active", (active, blueprint_id, version))
        return bool(rows and rows[0].applied)
