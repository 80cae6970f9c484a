"""Durable timers in Cassandra, by minute bucket of their due time.

``schedule`` writes a row; workers call ``fire_due`` often (every ~100 ms):
it reads only the buckets from the oldest not yet drained up to now,
publishes the due jobs and deletes their rows. Two workers may fire the same
timer; publishing a job twice is harmless (jobs are idempotent). Timers more
than ``lookback`` old when a worker starts are left to the reconciler.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from legato.adapters.cassandra.aio import execute
from legato.runtime.ports import JobBus
from legato.schemas import Job

BUCKET_SECONDS = 60
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Job)


class CassandraTimers:
    def __init__(
        self, session: Any, statements: dict[str, Any], *, lookback: float = 6 * 3600
    ) -> None:
        self.session = session
        self._q = statements
        self._oldest = int((time.time() - lookback) // BUCKET_SECONDS)

    @classmethod
    async def open(cls, session: Any, keyspace: str, **kwargs: Any) -> CassandraTimers:
        loop = asyncio.get_running_loop()
        cql = {
            "add": f"INSERT INTO {keyspace}.timers (bucket, due, id, job) VALUES (?, ?, ?, ?)",
            "due": f"SELECT due, id, job FROM {keyspace}.timers WHERE bucket = ? AND due <= ?",
            "del": f"DELETE FROM {keyspace}.timers WHERE bucket = ? AND due = ? AND id = ?",
            "any": f"SELECT id FROM {keyspace}.timers WHERE bucket = ? LIMIT 1",
        }

        def prepare() -> dict[str, Any]:
            return {k: session.prepare(v) for k, v in cql.items()}

        return cls(session, await loop.run_in_executor(None, prepare), **kwargs)

    async def schedule(self, at: float, job: Job) -> None:
        due = datetime.fromtimestamp(at, UTC)
        timer_id = f"{job.run_id}/{job.step_id}/{job.attempt}/{os.urandom(4).hex()}"
        await execute(
            self.session,
            self._q["add"],
            (int(at // BUCKET_SECONDS), due, timer_id, _enc.encode(job)),
        )

    async def fire_due(self, bus: JobBus, now: float | None = None) -> int:
        """Publish every job whose time has come; returns how many."""
        now = time.time() if now is None else now
        current = int(now // BUCKET_SECONDS)
        due_at = datetime.fromtimestamp(now, UTC)
        fired = 0
        for bucket in range(self._oldest, current + 1):
            rows = await execute(self.session, self._q["due"], (bucket, due_at))
            if rows:
                await bus.publish([_dec.decode(r.job) for r in rows])
                await asyncio.gather(
                    *(execute(self.session, self._q["del"], (bucket, r.due, r.id)) for r in rows)
                )
                fired += len(rows)
            if bucket < current and not await execute(self.session, self._q["any"], (bucket,)):
                self._oldest = bucket + 1  # drained: never read again
        return fired
