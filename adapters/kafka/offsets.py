"""Which offset of a partition may be committed while jobs finish out of order."""

from __future__ import annotations

import heapq


class PartitionOffsets:
    """Tracks in-flight offsets of one partition. ``committable`` is the offset of
    the lowest job not yet finished (or one past the highest seen when all are
    finished): committing it never skips an unfinished job."""

    __slots__ = ("_acked", "_heap", "_next", "committed")

    def __init__(self) -> None:
        self._heap: list[int] = []
        self._acked: set[int] = set()
        self._next: int | None = None
        self.committed: int | None = None

    def started(self, offset: int) -> None:
        heapq.heappush(self._heap, offset)
        if self._next is None or offset + 1 > self._next:
            self._next = offset + 1

    def finished(self, offset: int) -> None:
        self._acked.add(offset)
        while self._heap and self._heap[0] in self._acked:
            self._acked.discard(heapq.heappop(self._heap))

    def committable(self, force: bool = False) -> int | None:
        """The offset to commit now, or None if there is nothing (new, unless ``force``)."""
        position = self._heap[0] if self._heap else self._next
        if position is None or (position == self.committed and not force):
            return None
        return position

    def in_flight(self) -> int:
        return len(self._heap) - len(self._acked)
