"""`legato schedule add | list | pause | resume | delete`: cron schedules.

Exit codes: 0 done, 1 refused (an unknown schedule or blueprint), 2 bad input
(an invalid cron expression, time zone or --input).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from legato.cli import UsageError
from legato.cli.output import add_output_argument, emit
from legato.cli.remote import _json_arg, with_client
from legato.config import add_config_argument


def register(subparsers: Any) -> None:
    schedule = subparsers.add_parser("schedule", help="cron schedules: start runs at each tick")
    sub = schedule.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add (or replace) a schedule")
    add.add_argument("name")
    add.add_argument("--blueprint", required=True, help="a registered blueprint id")
    add.add_argument("--version", help="its version (default 1)")
    add.add_argument("--cron", required=True, help="5 fields, or 6 with seconds first")
    add.add_argument("--timezone", default="UTC", help="IANA time zone (default UTC)")
    add.add_argument("--input", metavar="JSON", help="each run's input, as JSON")
    add.add_argument("--catch-up", choices=("skip", "latest", "all"), default="skip")
    add.set_defaults(func=_add)
    listing = sub.add_parser("list", help="every schedule and its next fire time")
    listing.set_defaults(func=_list)
    for name, what in (("pause", "pause"), ("resume", "resume"), ("delete", "delete")):
        p = sub.add_parser(name, help=f"{what} a schedule")
        p.add_argument("name")
        p.set_defaults(func=_steer)
    for name, p in sub.choices.items():
        add_output_argument(p, "table" if name == "list" else "json")
        add_config_argument(p)


def _iso(at: float | None) -> str | None:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat() if at is not None else None


def _add(args: argparse.Namespace) -> int:
    from legato.runtime import cron
    from legato.schemas.schedules import Schedule

    value = _json_arg(args.input, "--input")
    try:
        cron.check(args.cron, args.timezone)
    except cron.ScheduleError as exc:
        raise UsageError(str(exc)) from exc
    sched = Schedule(
        args.name,
        args.blueprint,
        args.cron,
        version=args.version,
        timezone=args.timezone,
        input=value,
        catch_up=args.catch_up,
    )
    nxt = with_client(args, lambda c: c.schedules.add(sched))
    emit({"schedule": args.name, "next": _iso(nxt)}, args.output)
    return 0


def _list(args: argparse.Namespace) -> int:
    entries = with_client(args, lambda c: c.schedules.entries())
    emit([{**_plain(sched), "next": _iso(nxt)} for sched, nxt in entries], args.output, many=True)
    return 0


def _plain(sched: Any) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.to_builtins(sched)
    return out


def _steer(args: argparse.Namespace) -> int:
    actions = {
        "pause": lambda c: c.schedules.pause(args.name),
        "resume": lambda c: c.schedules.resume(args.name),
        "delete": lambda c: c.schedules.delete(args.name),
    }
    out = with_client(args, actions[args.action])
    emit(
        {"schedule": args.name, args.action: True, "next": _iso(out) if out else None}, args.output
    )
    return 0
