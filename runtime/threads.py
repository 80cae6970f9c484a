"""Daemon threads for sync node code.

``asyncio.to_thread`` and ``ThreadPoolExecutor`` threads are joined when the
process exits, so one sync node that never returns would keep a finished
``legato run`` alive. These threads are daemons: an abandoned call (its run was
cancelled) never holds up the exit. Idle threads wait for the next call; at
most ``max_idle`` are kept.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable


class DaemonThreads:
    def __init__(self, max_idle: int = 32) -> None:
        self.max_idle = max_idle
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in a daemon thread (an idle one, or a new one)."""
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        if spawn:
            threading.Thread(target=self._serve, name="legato-node", daemon=True).start()
        self._work.put(fn)

    def _serve(self) -> None:
        while True:
            self._work.get()()
            with self._lock:
                if self._idle >= self.max_idle:
                    return
                self._idle += 1
