"""The embedded run index: each scope a sorted list of positions, as the Cassandra
index keeps each scope's rows clustered by position (``legato.runtime.runindex``)."""

from __future__ import annotations

import bisect
from collections.abc import Callable

from legato.runtime.runindex import (
    Position,
    RunPage,
    RunQuery,
    RunSummary,
    encode_cursor,
    scopes,
    started_ms,
    status_scopes,
)
from legato.schemas import RunHeader


def position(header: RunHeader) -> Position:
    return started_ms(header.created_at), header.run_id


class MemoryRunIndex:
    """Positions by scope, ascending (pages are read from the end)."""

    def __init__(self) -> None:
        self._scopes: dict[str, list[Position]] = {}

    def _insert(self, scope: str, at: Position) -> None:
        keys = self._scopes.setdefault(scope, [])
        i = bisect.bisect_left(keys, at)
        if i == len(keys) or keys[i] != at:
            keys.insert(i, at)

    def _remove(self, scope: str, at: Position) -> None:
        keys = self._scopes.get(scope, [])
        i = bisect.bisect_left(keys, at)
        if i < len(keys) and keys[i] == at:
            del keys[i]
            if not keys:
                del self._scopes[scope]

    def add(self, header: RunHeader) -> None:
        for scope in scopes(header.blueprint_id, header.status):
            self._insert(scope, position(header))

    def move(self, header: RunHeader, status: str) -> None:
        """The run of ``header`` (in its old status) now has ``status``."""
        at = position(header)
        for scope in status_scopes(header.blueprint_id, header.status):
            self._remove(scope, at)
        for scope in status_scopes(header.blueprint_id, status):
            self._insert(scope, at)

    def remove(self, header: RunHeader) -> None:
        for scope in scopes(header.blueprint_id, header.status):
            self._remove(scope, position(header))

    def page(self, query: RunQuery, summary: Callable[[str], RunSummary]) -> RunPage:
        keys = self._scopes.get(query.scope, [])
        upper, lower = query.upper(), query.since_ms
        i = (bisect.bisect_left(keys, upper) if upper is not None else len(keys)) - 1
        runs: list[RunSummary] = []
        while i >= 0 and len(runs) < query.limit:
            if lower is not None and keys[i][0] < lower:
                break
            runs.append(summary(keys[i][1]))
            i -= 1
        more = i >= 0 and (lower is None or keys[i][0] >= lower)
        last = keys[i + 1] if runs else None
        return RunPage(runs, encode_cursor(last) if more and last is not None else None)
