"""`legato pause | resume | retry`: hold a run's new steps, let them go again, and
re-open a failed or cancelled run.

Exit codes: 0 done, 1 refused (an unknown run or step, or a run in a state where
it does not apply: pausing a run that is not running, resuming one that is not
paused, retrying one that is neither failed nor cancelled).
"""

from __future__ import annotations

import argparse
from typing import Any

from legato.cli.remote import _print, with_client
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
    for p in (pause, resume, retry):
        add_config_argument(p)


def _pause(args: argparse.Namespace) -> int:
    with_client(args, lambda c: c.pause(args.run_id, args.reason))
    _print({"run_id": args.run_id, "status": "paused"})
    return 0


def _retry(args: argparse.Namespace) -> int:
    event = with_client(args, lambda c: c.retry(args.run_id, args.from_step))
    _print({"run_id": args.run_id, "status": "running", "reset": list(event.reset)})
    return 0


def _resume(args: argparse.Namespace) -> int:
    released = with_client(args, lambda c: c.resume(args.run_id))
    _print({"run_id": args.run_id, "status": "running", "released": released})
    return 0
