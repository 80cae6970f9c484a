"""Retention of finished runs on Cassandra: a run's partition is rewritten with a TTL
when the run ends, so its history expires together with its index rows.

Cassandra cannot put a TTL on cells already written, so every row of the partition
(and its static header) is written again, ``USING TTL`` the retention and a timestamp
one microsecond after the cell's own, so the copy wins over the original whatever
the clocks (claim rows carry timestamps of 2**62 + token). This costs one read and
one write per row of the run, once, when it ends, and only with a retention set. A
row written after the rewrite (a step resolving after a cancel) keeps no TTL; it is
a row without a header, which no read returns as a run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from legato.adapters.cassandra.aio import check_keyspace, execute, prepare_all

_STATICS = (
    "blueprint_id",
    "blueprint_version",
    "input",
    "status",
    "error",
    "created_at",
    "updated_at",
    "parked_at",
    "parked_until",
)
_CONCURRENCY = 16


def statements(ks: str) -> dict[str, str]:
    check_keyspace(ks)
    stamps = ", ".join(f"writetime({c})" for c in _STATICS)
    cols = ", ".join(_STATICS)
    marks = ", ".join("?" for _ in _STATICS)
    return {
        "rows": f"SELECT kind, k1, k2, data, fence, writetime(data), writetime(fence) "
        f"FROM {ks}.runs WHERE run_id = ?",
        "statics": f"SELECT {cols}, {stamps} FROM {ks}.runs WHERE run_id = ? LIMIT 1",
        "row": f"INSERT INTO {ks}.runs (run_id, kind, k1, k2, data, fence) "
        "VALUES (?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?",
        "header": f"INSERT INTO {ks}.runs (run_id, {cols}) VALUES (?, {marks}) "
        "USING TTL ? AND TIMESTAMP ?",
    }


class Retention:
    """Rewrites ended runs' partitions with the TTL ``seconds``."""

    def __init__(self, session: Any, prepared: dict[str, Any], seconds: int) -> None:
        self.session = session
        self._q = prepared
        self.seconds = seconds

    @classmethod
    async def open(cls, session: Any, keyspace: str, seconds: int) -> Retention:
        return cls(session, await prepare_all(session, statements(keyspace)), seconds)

    async def expire(self, run_id: str) -> None:
        """Give every row of the run's partition the TTL (idempotent)."""
        sem = asyncio.Semaphore(_CONCURRENCY)

        async def write(name: str, params: tuple[Any, ...]) -> None:
            async with sem:
                await execute(self.session, self._q[name], params)

        writes = []
        head = await execute(self.session, self._q["statics"], (run_id,))
        if head:
            values = tuple(head[0])[: len(_STATICS)]
            stamps = [s for s in tuple(head[0])[len(_STATICS) :] if s is not None]
            if stamps:
                writes.append(write("header", (run_id, *values, self.seconds, max(stamps) + 1)))
        for r in await execute(self.session, self._q["rows"], (run_id,)):
            if r.kind is None:  # a partition holding only its header
                continue
            stamp = max(s for s in (r[5], r[6], 0) if s is not None) + 1
            params = (run_id, r.kind, r.k1, r.k2, r.data, r.fence, self.seconds, stamp)
            writes.append(write("row", params))
        await asyncio.gather(*writes)
