"""A live worker as it announces itself in its heartbeats (kept by the coordinator)."""

from __future__ import annotations

import msgspec


class WorkerInfo(msgspec.Struct, frozen=True):
    """One worker process: who it is, what it consumes and how busy it is now.

    ``queues`` are the topics (or, embedded, the in-process queues) it consumes;
    ``in_flight`` the steps it handles at the time of ``heartbeat_at`` (unix seconds).
    """

    worker_id: str
    host: str
    pid: int
    queues: tuple[str, ...] = ()
    concurrency: int = 0
    in_flight: int = 0
    started_at: float = 0.0
    heartbeat_at: float = 0.0
