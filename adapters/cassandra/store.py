"""RunStore and BlueprintStore on Cassandra (tables in ``cql/0001_runs.cql``).

One partition per run: the header in static columns, then rows by ``kind``
(0 event, 1 step record, 2 context write, 3 signal, 4 signal waiter). A step's
writes go in one single-partition batch, conditional on the step record not
existing yet (a lightweight transaction), so the first resolution wins and the
batch is atomic and isolated. Steps read only the rows they need. Fencing
tokens are checked by the Coordinator's leases; here the first-wins condition
makes a late write from a fenced-out worker a no-op.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from cassandra.query import BatchStatement, BatchType

from legato.adapters.cassandra.aio import execute
from legato.runtime.errors import RunNotFoundError
from legato.schemas import (
    Blueprint,
    ContextWrite,
    Event,
    Job,
    RunHeader,
    RunStarted,
    StepCompleted,
    StepRecord,
    StepSkipped,
)

EVENT, STEP, CONTEXT, SIGNAL, WAITER = 0, 1, 2, 3, 4
ACTIVE_SHARDS = 16

_enc = msgspec.msgpack.Encoder()
_dec_event = msgspec.msgpack.Decoder(Event)
_dec_record = msgspec.msgpack.Decoder(StepRecord)
_dec_job = msgspec.msgpack.Decoder(Job)
_dec_any = msgspec.msgpack.Decoder()


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _secs(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return value.replace(tzinfo=UTC).timestamp() if value.tzinfo is None else value.timestamp()


def _seq() -> str:
    """Sortable, unique event keys: nanoseconds then random bits."""
    return f"{time.time_ns():020d}{os.urandom(4).hex()}"


def shard(run_id: str) -> int:
    return zlib.crc32(run_id.encode()) % ACTIVE_SHARDS


_STATICS = "blueprint_id, blueprint_version, input, status, error, created_at, updated_at"

_CQL = {
    "create": f"INSERT INTO runs (run_id, {_STATICS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "IF NOT EXISTS",
    "row": "INSERT INTO runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?)",
    "row_once": "INSERT INTO runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?) "
    "IF NOT EXISTS",
    "touch": "UPDATE runs SET updated_at = ? WHERE run_id = ?",
    "finish": "UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE run_id = ? "
    "IF status = 'running'",
    "header": f"SELECT DISTINCT run_id, {_STATICS} FROM runs WHERE run_id = ?",
    "rows_in": "SELECT k1, k2, data FROM runs WHERE run_id = ? AND kind = ? AND k1 IN ?",
    "rows_one": "SELECT k1, k2, data FROM runs WHERE run_id = ? AND kind = ? AND k1 = ?",
    "rows_all": "SELECT k1, k2, data FROM runs WHERE run_id = ? AND kind = ?",
    "active_add": "INSERT INTO active_runs (shard, run_id, created_at) VALUES (?, ?, ?)",
    "active_del": "DELETE FROM active_runs WHERE shard = ? AND run_id = ?",
    "active_list": "SELECT run_id FROM active_runs WHERE shard = ?",
    "bp_put": "INSERT INTO blueprints (id, version, body, created_at) VALUES (?, ?, ?, ?) "
    "IF NOT EXISTS",
    "bp_get": "SELECT body FROM blueprints WHERE id = ? AND version = ?",
}


class CassandraRunStore:
    """The run history in Cassandra. Build with ``await CassandraRunStore.open(...)``."""

    def __init__(self, session: Any, keyspace: str, statements: dict[str, Any]) -> None:
        self.session = session
        self.keyspace = keyspace
        self._q = statements

    @classmethod
    async def open(cls, session: Any, keyspace: str) -> CassandraRunStore:
        loop = asyncio.get_running_loop()

        def prepare() -> dict[str, Any]:
            session.set_keyspace(keyspace)
            return {name: session.prepare(cql) for name, cql in _CQL.items()}

        return cls(session, keyspace, await loop.run_in_executor(None, prepare))

    async def _run(self, name: str, params: Sequence[Any]) -> list[Any]:
        return await execute(self.session, self._q[name], params)

    def _batch(self) -> BatchStatement:
        return BatchStatement(batch_type=BatchType.LOGGED)

    # -- runs ----------------------------------------------------------------------------

    async def create_run(self, header: RunHeader, event: RunStarted) -> bool:
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
        rows = await execute(self.session, batch)
        if not rows or not rows[0].applied:
            return False
        await self._run("active_add", (shard(header.run_id), header.run_id, _ts(header.created_at)))
        return True

    async def get_run(self, run_id: str) -> RunHeader | None:
        rows = await self._run("header", (run_id,))
        if not rows or rows[0].blueprint_id is None:
            return None
        r = rows[0]
        return RunHeader(
            run_id,
            r.blueprint_id,
            r.blueprint_version,
            r.status,
            _dec_any.decode(r.input) if r.input else None,
            r.error,
            _secs(r.created_at),
            _secs(r.updated_at),
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
        return {r.k1: _dec_record.decode(r.data) for r in rows}

    async def get_context(self, run_id: str, keys: Sequence[str]) -> dict[str, list[ContextWrite]]:
        if not keys:
            return {}
        rows = await self._run("rows_in", (run_id, CONTEXT, list(keys)))
        out: dict[str, list[ContextWrite]] = {}
        for r in rows:
            out.setdefault(r.k1, []).append(ContextWrite(r.k1, r.k2, _dec_any.decode(r.data)))
        return out

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
    ) -> StepRecord:
        encoded = _enc.encode(record)
        batch = self._batch()
        batch.add(self._q["row_once"], (run_id, STEP, step_id, "", encoded))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        for w in context:
            batch.add(self._q["row"], (run_id, CONTEXT, w.key, w.step_id, _enc.encode(w.value)))
        batch.add(self._q["touch"], (_ts(event.at), run_id))
        rows = await execute(self.session, batch)
        if rows and rows[0].applied:
            return _dec_record.decode(encoded)
        existing = await self.get_steps(run_id, (step_id,))
        if step_id not in existing:
            raise RunNotFoundError(f"cannot resolve {step_id}: run {run_id!r} not found")
        return existing[step_id]

    async def _append(self, run_id: str, event: Event) -> None:
        batch = self._batch()
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        batch.add(self._q["touch"], (_ts(event.at), run_id))
        await execute(self.session, batch)

    async def record_failure(self, run_id: str, event: Event) -> None:
        await self._append(run_id, event)

    async def append_event(self, run_id: str, event: Event) -> None:
        await self._append(run_id, event)

    async def finish_run(self, run_id: str, status: str, event: Event, error: str | None) -> bool:
        batch = self._batch()
        batch.add(self._q["finish"], (status, error, _ts(event.at), run_id))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        rows = await execute(self.session, batch)
        if not rows or not rows[0].applied:
            if await self.get_run(run_id) is None:
                raise RunNotFoundError(f"run {run_id!r} does not exist")
            return False
        await self._run("active_del", (shard(run_id), run_id))
        return True

    async def history(self, run_id: str) -> list[Event]:
        rows = await self._run("rows_all", (run_id, EVENT))
        if not rows:
            await self._require(run_id)
        return [_dec_event.decode(r.data) for r in rows]

    async def all_steps(self, run_id: str) -> dict[str, StepRecord]:
        return {
            r.k1: _dec_record.decode(r.data) for r in await self._run("rows_all", (run_id, STEP))
        }

    async def all_context(self, run_id: str) -> dict[str, list[ContextWrite]]:
        out: dict[str, list[ContextWrite]] = {}
        for r in await self._run("rows_all", (run_id, CONTEXT)):
            out.setdefault(r.k1, []).append(ContextWrite(r.k1, r.k2, _dec_any.decode(r.data)))
        return out

    async def list_active(self, limit: int = 10_000) -> list[RunHeader]:
        ids: list[str] = []
        for part in await asyncio.gather(
            *(self._run("active_list", (s,)) for s in range(ACTIVE_SHARDS))
        ):
            ids.extend(r.run_id for r in part)
        headers = await asyncio.gather(*(self.get_run(i) for i in ids[:limit]))
        return [h for h in headers if h is not None and h.status == "running"]

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> RunHeader:
        async def poll() -> RunHeader:
            delay = 0.02
            while True:
                header = await self.get_run(run_id)
                if header is None:
                    raise RunNotFoundError(f"run {run_id!r} does not exist")
                if header.status != "running":
                    return header
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 0.5)

        return await asyncio.wait_for(poll(), timeout)

    # -- signals -------------------------------------------------------------------------

    async def put_signal(self, run_id: str, name: str, data: Any, event: Event) -> bool:
        batch = self._batch()
        batch.add(self._q["row_once"], (run_id, SIGNAL, name, "", _enc.encode(data)))
        batch.add(self._q["row"], (run_id, EVENT, _seq(), "", _enc.encode(event)))
        rows = await execute(self.session, batch)
        return bool(rows and rows[0].applied)

    async def get_signal(self, run_id: str, name: str) -> tuple[bool, Any]:
        rows = await self._run("rows_one", (run_id, SIGNAL, name))
        return (True, _dec_any.decode(rows[0].data)) if rows else (False, None)

    async def add_waiter(self, run_id: str, name: str, job: Job) -> None:
        await self._run("row", (run_id, WAITER, name, job.step_id, _enc.encode(job)))

    async def get_waiters(self, run_id: str, name: str) -> list[Job]:
        return [
            _dec_job.decode(r.data) for r in await self._run("rows_one", (run_id, WAITER, name))
        ]

    # -- blueprints ----------------------------------------------------------------------

    async def put_blueprint(self, blueprint: Blueprint) -> None:
        await self._run(
            "bp_put", (blueprint.id, blueprint.version, _enc.encode(blueprint), _ts(time.time()))
        )

    async def get_blueprint(self, blueprint_id: str, version: str) -> Blueprint | None:
        rows = await self._run("bp_get", (blueprint_id, version))
        return msgspec.msgpack.decode(rows[0].body, type=Blueprint) if rows else None
