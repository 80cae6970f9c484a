"""Cron schedules: a blueprint started at each tick of a cron expression."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

CatchUp = Literal["skip", "latest", "all"]


class Schedule(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=False):
    """A schedule: start ``blueprint`` (``version``) with ``input`` at each tick of
    ``cron`` (5 fields, or 6 with seconds first) in ``timezone``. ``catch_up`` says
    what becomes of ticks missed while no worker ran: ``skip`` them, start the
    ``latest`` one, or ``all``. A paused schedule starts nothing."""

    name: str
    blueprint: str
    cron: str
    version: str | None = None  # None: the version given when it was added ("1")
    timezone: str = "UTC"
    input: Any = None
    catch_up: CatchUp = "skip"
    paused: bool = False
