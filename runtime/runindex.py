"""Listing runs: the query, its page, and the index layout every store shares.

A run's place in the index is its *position* ``(started_ms, run_id)``: the start
time in whole milliseconds (Cassandra's ``timestamp`` precision) then the run id.
Positions never change, so a run that ends while someone pages keeps its place:
paging goes strictly down the positions and the cursor is the last position
returned, so no run is listed twice and none that matched throughout is missed
(a run that changed status in between shows where it stood when its page was read).

Each run is indexed under four *scopes*, one per filter combination, so every
query reads one scope and filters nothing itself: every run (``*``), its
blueprint (``b/<id>``), its status (``s/<status>``) and both (``bs/<status>/<id>``).
An index row moves between the status scopes when the run ends.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from legato.runtime.errors import LegatoError
from legato.schemas import TERMINAL_STATUSES

RUN_STATUSES: tuple[str, ...] = ("running", *sorted(TERMINAL_STATUSES))
MAX_LIMIT = 1000
BUCKET_MS = 3_600_000  # an hour of start times per index partition
ALL = "*"

Position = tuple[int, str]  # (started_ms, run_id), newest first


class InvalidQueryError(LegatoError):
    """A run listing was asked with a filter, limit or cursor it cannot use."""


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs to list: filters (all optional), page size and where to go on.

    ``since`` is inclusive, ``until`` exclusive, both on the run's start time; a
    naive datetime is taken as UTC. ``cursor`` is the ``RunPage.cursor`` of the
    previous page (opaque).

    Raises:
        InvalidQueryError: an unknown status, a limit outside 1..1000, ``since``
            after ``until``, or a cursor that no listing returned.
    """

    blueprint: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in RUN_STATUSES:
            raise InvalidQueryError(
                f"unknown run status {self.status!r} (one of {', '.join(RUN_STATUSES)})"
            )
        if isinstance(self.limit, bool) or not isinstance(self.limit, int):
            raise InvalidQueryError(f"limit must be an integer, got {self.limit!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.blueprint is not None and not self.blueprint:
            raise InvalidQueryError("blueprint must not be empty")
        since, until = self.since_ms, self.until_ms
        if since is not None and until is not None and since > until:
            raise InvalidQueryError("since is after until")
        if self.cursor is not None:
            decode_cursor(self.cursor)

    @property
    def since_ms(self) -> int | None:
        return None if self.since is None else _ms(self.since)

    @property
    def until_ms(self) -> int | None:
        return None if self.until is None else _ms(self.until)

    @property
    def scope(self) -> str:
        """The one index scope this query reads."""
        return scope(self.blueprint, self.status)

    def upper(self) -> Position | None:
        """The exclusive upper bound of the positions this page may return."""
        bounds: list[Position] = []
        if self.until is not None:
            bounds.append((_ms(self.until), ""))
        if self.cursor is not None:
            bounds.append(decode_cursor(self.cursor))
        return min(bounds) if bounds else None


class RunSummary(msgspec.Struct, frozen=True):
    """One run as the index lists it; ``ended_at`` is None while it runs."""

    run_id: str
    blueprint_id: str
    blueprint_version: str
    status: str
    started_at: datetime
    ended_at: datetime | None = None


class RunPage(msgspec.Struct, frozen=True):
    """A page of runs, newest first; ``cursor`` continues it (None: that was all)."""

    runs: list[RunSummary]
    cursor: str | None = None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: datetime) -> int:
    """A datetime (naive: UTC) as whole milliseconds since the epoch, exactly."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // timedelta(milliseconds=1)


to_ms = _ms


def started_ms(seconds: float) -> int:
    """A unix time (a header's ``created_at``) as the index's millisecond."""
    return int(seconds * 1000)


def moment(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime, exactly."""
    return EPOCH + timedelta(milliseconds=ms)


def bucket(ms: int) -> int:
    return ms // BUCKET_MS


def scope(blueprint: str | None, status: str | None) -> str:
    if blueprint is not None and status is not None:
        return f"bs/{status}/{blueprint}"  # the status has no '/': unambiguous
    if blueprint is not None:
        return f"b/{blueprint}"
    if status is not None:
        return f"s/{status}"
    return ALL


def scopes(blueprint: str, status: str) -> tuple[str, ...]:
    """Every scope a run of ``blueprint`` in ``status`` is listed under."""
    return (ALL, scope(blueprint, None), scope(None, status), scope(blueprint, status))


def status_scopes(blueprint: str, status: str) -> tuple[str, ...]:
    """The scopes a run leaves when it moves out of ``status``."""
    return (scope(None, status), scope(blueprint, status))


def encode_cursor(position: Position) -> str:
    raw = msgspec.json.encode([1, position[0], position[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, ms, run_id = msgspec.json.decode(raw, type=tuple[int, int, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidQueryError(f"not a cursor of a run listing: {cursor!r}") from None
    if version != 1:
        raise InvalidQueryError(f"not a cursor of a run listing: {cursor!r}")
    return ms, run_id
