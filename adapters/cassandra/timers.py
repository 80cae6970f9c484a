"""Durable timers in Cassandra, by minute bucket of their due time.

``schedule`` registers the bucket in ``timer_buckets`` and then writes the timer
row (in that order, so no timer is ever in an unregistered bucket). A timer due
in the past goes to the current bucket. Workers call ``fire_due`` often: it
reads the registered buckets from the oldest not yet drained up to now (one
small partition, sliced from a cursor so older tombstones are not read again),
publishes the due jobs, deletes their rows, and unregisters a past bucket once
it is empty. However long every worker was down, no timer is skipped. Each timer
is also listed under its run (``run_timers``, written before the timer row) so
that cancelling the run drops its timers (``drop_run``).

Two pollers may fire the same timer (both read it before either deletes it);
the job is then published twice, which is harmless: jobs are idempotent (a
step already resolved only re-drives its successors).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from legato.adapters.cassandra.aio import check_keyspace, execute, prepare_all
from legato.runtime.ports import JobBus
from legato.schemas import Job

BUCKET_SECONDS = 60
# A bucket is unregistered only once it is this many buckets in the past, so a
# schedule() in flight on a machine whose clock lags never writes an unregistered one.
GRACE_BUCKETS = 2
# A run's index of its timers (run_timers) outlives each timer by this long.
OWNED_TTL_SECONDS = 24 * 3600
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Job)


def _cql(ks: str) -> dict[str, str]:
    check_keyspace(ks)
    return {
        "add": f"INSERT INTO {ks}.timers (bucket, due, id, job) VALUES (?, ?, ?, ?)",
        "due": f"SELECT due, id, job FROM {ks}.timers WHERE bucket = ? AND due <= ?",
        "del": f"DELETE FROM {ks}.timers WHERE bucket = ? AND due = ? AND id = ?",
        "any": f"SELECT id FROM {ks}.timers WHERE bucket = ? LIMIT 1",
        "reg": f"INSERT INTO {ks}.timer_buckets (shard, bucket) VALUES (0, ?)",
        "unreg": f"DELETE FROM {ks}.timer_buckets WHERE shard = 0 AND bucket = ?",
        "buckets": f"SELECT bucket FROM {ks}.timer_buckets WHERE shard = 0 "
        "AND bucket >= ? AND bucket <= ?",
        "own": f"INSERT INTO {ks}.run_timers (run_id, bucket, due, id) VALUES (?, ?, ?, ?) "
        "USING TTL ?",
        "owned": f"SELECT bucket, due, id FROM {ks}.run_timers WHERE run_id = ?",
        "disown": f"DELETE FROM {ks}.run_timers WHERE run_id = ?",
        "unown": f"DELETE FROM {ks}.run_timers WHERE run_id = ? AND bucket = ? AND due = ? "
        "AND id = ?",
    }


class CassandraTimers:
    """The ``Timers`` port on Cassandra. Build with ``await CassandraTimers.open(...)``."""

    poll_interval: float | None = 0.1

    def __init__(self, session: Any, prepared: dict[str, Any]) -> None:
        self.session = session
        self._q = prepared
        self._cursor = 0  # every bucket below it is drained (0: not known yet)

    @classmethod
    async def open(cls, session: Any, keyspace: str) -> CassandraTimers:
        return cls(session, await prepare_all(session, _cql(keyspace)))

    async def schedule(self, at: float, job: Job) -> None:
        b = max(int(at // BUCKET_SECONDS), int(time.time() // BUCKET_SECONDS))
        timer_id = f"{job.run_id}/{job.step_id}/{job.attempt}/{os.urandom(4).hex()}"
        due = datetime.fromtimestamp(at, UTC)
        ttl = int(max(0.0, at - time.time())) + OWNED_TTL_SECONDS
        await asyncio.gather(
            execute(self.session, self._q["reg"], (b,)),
            execute(self.session, self._q["own"], (job.run_id, b, due, timer_id, ttl)),
        )
        await execute(self.session, self._q["add"], (b, due, timer_id, _enc.encode(job)))

    async def drop_run(self, run_id: str) -> int:
        """Delete the run's timers that have not fired yet; returns how many."""
        rows = await execute(self.session, self._q["owned"], (run_id,))
        await asyncio.gather(
            *(execute(self.session, self._q["del"], (r.bucket, r.due, r.id)) for r in rows)
        )
        await execute(self.session, self._q["disown"], (run_id,))
        return len(rows)

    async def probe(self) -> str | None:
        return None  # the store probes the shared session

    async def close(self) -> None:
        return None

    async def fire_due(self, bus: JobBus, now: float | None = None) -> int:
        """Publish every job whose time has come, then delete it; returns how many."""
        now = time.time() if now is None else now
        current = int(now // BUCKET_SECONDS)
        due_at = datetime.fromtimestamp(now, UTC)
        regs = await execute(self.session, self._q["buckets"], (self._cursor, current))
        fired = 0
        lowest = current - GRACE_BUCKETS
        for b in (r.bucket for r in regs):
            rows = await execute(self.session, self._q["due"], (b, due_at))
            if rows:
                jobs = [_dec.decode(r.job) for r in rows]
                await bus.publish(jobs)
                await asyncio.gather(
                    *(execute(self.session, self._q["del"], (b, r.due, r.id)) for r in rows),
                    *(
                        execute(self.session, self._q["unown"], (j.run_id, b, r.due, r.id))
                        for j, r in zip(jobs, rows, strict=True)
                    ),
                )
                fired += len(rows)
            if b < current - GRACE_BUCKETS and not await execute(
                self.session, self._q["any"], (b,)
            ):
                await execute(self.session, self._q["unreg"], (b,))
            else:
                lowest = min(lowest, b)
        self._cursor = max(self._cursor, lowest)
        return fired
