"""`legato pause | resume | retry`: hold a run's new steps, let them go again, and
re-open a failed or cancelled run.

Exit codes: 0 done, 1 refused (an unknown run or step, or a run in a state where
it does not apply: pausing a run that is not running, resuming one that is not
paused, retrying one that is neither failed nor cancelled).
"""

from __future__ import annotations

import argparse
from typing import Any

from legato.cli import UsageError
from legato.cli.output import add_output_argument, emit
from legato.cli.remote import _json_arg, with_client
from legato.config import add_config_argument


def register(subparsers: Any) -> None:
    pause = subparsers.add_parser(
        "pause", help="pause a run: no new step starts, timers wait for resume"
    )
    pause.add_argument("run_id")
    pause.add_argument("--reason", default="")
    pause.set_defaults(func=_pause)
    resume = subparsers.add_parser("resume", help="resume a paused run")
    resume.add_argument("run_id")
    resume.set_defaults(func=_resume)
    retry = subparsers.add_parser(
        "retry", help="re-open a failed or cancelled run from where it failed"
    )
    retry.add_argument("run_id")
    retry.add_argument(
        "--from", dest="from_step", metavar="STEP", help="run STEP and all after it again"
    )
    retry.set_defaults(func=_retry)
    publish = subparsers.add_parser(
        "publish", help="deliver an event to the runs waiting on its name and key"
    )
    publish.add_argument("event", metavar="NAME")
    publish.add_argument("--key", required=True, help="the event's key")
    publish.add_argument("--data", metavar="JSON", help="the event's data, as JSON")
    publish.add_argument(
        "--retain",
        metavar="DURATION",
        default="0",
        help="also deliver to runs that start waiting within DURATION (30s, 10m, 2h, 1d)",
    )
    publish.add_argument("--id", help="an id for the event (publishing it twice delivers once)")
    publish.set_defaults(func=_publish)
    for p in (pause, resume, retry, publish):
        add_output_argument(p, "json")
        add_config_argument(p)


def _pause(args: argparse.Namespace) -> int:
    with_client(args, lambda c: c.pause(args.run_id, args.reason))
    emit({"run_id": args.run_id, "status": "paused"}, args.output)
    return 0


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """Seconds of ``30``, ``30s``, ``10m``, ``2h`` or ``1d``; ``UsageError`` otherwise."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise UsageError(f"--retain {text!r} is not a duration (30s, 10m, 2h, 1d)") from None
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"--retain {text!r} must be a finite duration >= 0")
    return value


def _publish(args: argparse.Namespace) -> int:
    data = _json_arg(args.data, "--data")
    retain = duration(args.retain)
    delivered = with_client(
        args,
        lambda c: c.publish(args.event, args.key, data, retain=retain, event_id=args.id),
    )
    emit({"event": args.event, "key": args.key, "delivered": delivered}, args.output)
    return 0


def _retry(args: argparse.Namespace) -> int:
    event = with_client(args, lambda c: c.retry(args.run_id, args.from_step))
    emit({"run_id": args.run_id, "status": "running", "reset": list(event.reset)}, args.output)
    return 0


def _resume(args: argparse.Namespace) -> int:
    released = with_client(args, lambda c: c.resume(args.run_id))
    emit({"run_id": args.run_id, "status": "running", "released": released}, args.output)
    return 0
