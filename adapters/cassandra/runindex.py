"""The run index on Cassandra (``cql/0005_run_index.cql``): listing runs by blueprint,
status and start-time window without ``ALLOW FILTERING`` or reading run partitions.

A run's four index rows (one per scope, ``legato.runtime.runindex``) are written
once its run row exists, and moved when it ends, in logged batches (all or nothing).
Each batch carries an explicit timestamp: the run's start for the create, at least
a microsecond after it for the end, so the end's deletes of the 'running' rows win
whatever the clocks of the two writers say. The store ends a run in this order:
status (conditional), index, then the active-runs row; a crash in between leaves
the active row, and the reconciler's ``list_active``, which finds the run ended,
calls ``ended`` again before dropping it, so the index never keeps a stale status.

A listing reads the scope's bucket directory (newest first) and then the buckets
in turn, each with one clustering-range query, until the page is full.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cassandra.query import BatchStatement, BatchType

from legato.adapters.cassandra.aio import check_keyspace, execute, prepare_all
from legato.runtime.runindex import (
    BUCKET_MS,
    Position,
    RunPage,
    RunQuery,
    RunSummary,
    bucket,
    encode_cursor,
    moment,
    scopes,
    started_ms,
    status_scopes,
    to_ms,
)
from legato.schemas import RunHeader

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the end of the index
CLOCK_SKEW_US = 60_000_000  # a pruned bucket row spares rows written this long before
_BUCKETS_PER_READ = 64

_COLUMNS = "run_id, started_at, blueprint_id, blueprint_version, status, ended_at"


def statements(ks: str) -> dict[str, str]:
    check_keyspace(ks)
    return {
        "put": f"INSERT INTO {ks}.run_index (scope, bucket, started_at, run_id, blueprint_id, "
        "blueprint_version, status, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "USING TTL ? AND TIMESTAMP ?",
        "delete": f"DELETE FROM {ks}.run_index USING TIMESTAMP ? WHERE scope = ? AND bucket = ? "
        "AND started_at = ? AND run_id = ?",
        "bucket_put": f"INSERT INTO {ks}.run_index_buckets (scope, bucket) VALUES (?, ?) "
        "USING TIMESTAMP ?",
        "bucket_delete": f"DELETE FROM {ks}.run_index_buckets USING TIMESTAMP ? "
        "WHERE scope = ? AND bucket = ?",
        "buckets": f"SELECT bucket FROM {ks}.run_index_buckets WHERE scope = ? "
        "AND bucket <= ? AND bucket >= ? LIMIT ?",
        "page": f"SELECT {_COLUMNS} FROM {ks}.run_index WHERE scope = ? AND bucket = ? "
        "AND (started_at, run_id) < (?, ?) AND (started_at, run_id) >= (?, ?) LIMIT ?",
    }


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


class CassandraRunIndex:
    """Writes and reads ``run_index``; ``retention`` (seconds, None: for ever) is the
    TTL of a finished run's rows."""

    def __init__(self, session: Any, prepared: dict[str, Any], retention: float | None) -> None:
        self.session = session
        self._q = prepared
        self._ttl = int(retention) if retention else 0  # TTL 0: no expiry

    @classmethod
    async def open(
        cls, session: Any, keyspace: str, retention: float | None = None
    ) -> CassandraRunIndex:
        return cls(session, await prepare_all(session, statements(keyspace)), retention)

    def _put(
        self,
        batch: BatchStatement,
        header: RunHeader,
        status: str,
        ended_at: float | None,
        names: Sequence[str],
        stamp: int,
    ) -> None:
        ms = started_ms(header.created_at)
        started, b = moment(ms), bucket(ms)
        ended = moment(started_ms(ended_at)) if ended_at is not None else None
        ttl = self._ttl if ended_at is not None else 0
        for name in names:
            batch.add(
                self._q["put"],
                (
                    name,
                    b,
                    started,
                    header.run_id,
                    header.blueprint_id,
                    header.version,
                    status,
                    ended,
                    ttl,
                    stamp,
                ),
            )
            batch.add(self._q["bucket_put"], (name, b, stamp))

    async def created(self, header: RunHeader) -> None:
        """Index a run that was just created (running)."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        self._put(
            batch,
            header,
            header.status,
            None,
            scopes(header.blueprint_id, header.status),
            _us(header.created_at),
        )
        await execute(self.session, batch)

    async def ended(self, header: RunHeader, status: str, ended_at: float) -> None:
        """Move a run (``header`` as it was while running) to its final ``status``.
        Idempotent: calling it again rewrites the same rows."""
        stamp = max(_us(time.time()), _us(header.created_at) + 1)
        ms = started_ms(header.created_at)
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        for name in status_scopes(header.blueprint_id, "running"):
            batch.add(self._q["delete"], (stamp, name, bucket(ms), moment(ms), header.run_id))
        self._put(batch, header, status, ended_at, scopes(header.blueprint_id, status), stamp)
        await execute(self.session, batch)

    async def page(self, query: RunQuery) -> RunPage:
        upper: Position = query.upper() or (MAX_MS, "")
        lower_ms = max(query.since_ms or 0, 0)
        need = query.limit + 1  # one more tells whether a next page exists
        read_at = _us(time.time())
        found: list[Any] = []
        hi, lo = bucket(upper[0]), bucket(lower_ms)
        while len(found) < need and hi >= lo:
            rows = await execute(
                self.session, self._q["buckets"], (query.scope, hi, lo, _BUCKETS_PER_READ)
            )
            for b in (r.bucket for r in rows):
                got = await execute(
                    self.session,
                    self._q["page"],
                    (
                        query.scope,
                        b,
                        moment(upper[0]),
                        upper[1],
                        moment(lower_ms),
                        "",
                        need - len(found),
                    ),
                )
                whole = upper[0] >= (b + 1) * BUCKET_MS and lower_ms <= b * BUCKET_MS
                if not got and whole:  # empty (its rows expired or moved): forget it
                    await execute(
                        self.session,
                        self._q["bucket_delete"],
                        (read_at - CLOCK_SKEW_US, query.scope, b),
                    )
                found += got
                if len(found) >= need:
                    break
            if len(rows) < _BUCKETS_PER_READ:
                break
            hi = rows[-1].bucket - 1
        runs = [_summary(r) for r in found[: query.limit]]
        more = len(found) > query.limit
        if not (more and runs):
            return RunPage(runs)
        return RunPage(runs, encode_cursor((to_ms(runs[-1].started_at), runs[-1].run_id)))


def _summary(r: Any) -> RunSummary:
    return RunSummary(
        r.run_id,
        r.blueprint_id,
        r.blueprint_version,
        r.status,
        _aware(r.started_at),
        _aware(r.ended_at) if r.ended_at is not None else None,
    )


def _aware(value: datetime) -> datetime:
    """The driver returns naive datetimes in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
