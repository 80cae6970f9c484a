"""`legato pause | resume`: hold a run's new steps, and let them go again.

Exit codes: 0 done, 1 refused (an unknown run, or one in a state where it does
not apply: pausing a run that is not running, resuming one that is not paused).
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
    for p in (pause, resume):
        add_config_argument(p)


def _pause(args: argparse.Namespace) -> int:
    with_client(args, lambda c: c.pause(args.run_id, args.reason))
    _print({"run_id": args.run_id, "status": "paused"})
    return 0


def _resume(args: argparse.Namespace) -> int:
    released = with_client(args, lambda c: c.resume(args.run_id))
    _print({"run_id": args.run_id, "status": "running", "released": released})
    return 0
