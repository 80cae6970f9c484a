"""Cron expressions and ticks: pure functions over ``cronsim``.

``cronsim`` (no dependencies, maintained by healthchecks.io) parses 5 fields, or 6
with seconds first, and evaluates them in a time zone as Debian's cron does:

- a tick that falls in a DST gap (02:30 on the night clocks jump from 02:00 to
  03:00) fires once, at the first instant after the gap (03:00);
- a tick in a repeated hour (clocks go back from 03:00 to 02:00) fires once, at
  its first occurrence, if the hour field is a fixed value (``30 2 * * *``); an
  expression that matches every hour (``*/30 * * * *``) fires in both occurrences.

A tick is a unix time (UTC seconds); a scheduled run's id is derived from the
schedule's name and its tick, so each tick starts at most one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from legato.runtime.errors import LegatoError

MAX_CATCH_UP = 1000  # ticks started at most by one firing (catch_up: all)


class ScheduleError(LegatoError):
    """A schedule cannot be used as given: an invalid cron expression or time zone,
    an unknown blueprint, an unknown schedule. Nothing was changed."""


class UnknownScheduleError(ScheduleError):
    """No schedule of that name."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}") from exc


def check(cron: str, timezone: str) -> None:
    """``ScheduleError`` unless ``cron`` parses (5 or 6 fields) and ``timezone`` exists."""
    tz = zone(timezone)
    if len(cron.split()) not in (5, 6):
        raise ScheduleError(f"cron {cron!r}: give 5 fields, or 6 with seconds first")
    from cronsim import CronSim, CronSimError  # only where schedules are used

    try:
        CronSim(cron, dt.datetime.now(tz))
    except CronSimError as exc:
        raise ScheduleError(f"cron {cron!r}: {exc}") from exc


def ticks(cron: str, timezone: str, after: float) -> Iterator[float]:
    """The ticks strictly after unix time ``after``, in order."""
    from cronsim import CronSim

    tz = zone(timezone)
    start = dt.datetime.fromtimestamp(after, tz)
    for when in CronSim(cron, start):
        t = when.timestamp()
        if t > after:
            yield t


def next_tick(cron: str, timezone: str, after: float) -> float:
    return next(ticks(cron, timezone, after))


def due(cron: str, timezone: str, first: float, now: float) -> list[float]:
    """``first`` and the ticks after it up to ``now`` (at most ``MAX_CATCH_UP``, the
    latest kept)."""
    out = [first]
    for t in ticks(cron, timezone, first):
        if t > now:
            break
        out.append(t)
        if len(out) > MAX_CATCH_UP:
            out.pop(0)
    return out


def run_id(name: str, tick: float) -> str:
    """The id of the run a schedule starts at ``tick``: the same for every firing."""
    stamp = dt.datetime.fromtimestamp(tick, dt.UTC).strftime("%Y%m%dT%H%M%S")
    frac = f"{tick % 1:.3f}"[1:] if tick % 1 else ""
    return f"{name}@{stamp}{frac}Z"
