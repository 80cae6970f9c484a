"""`legato runs`: list a deployment's runs, newest first, through the run index."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from legato.cli import UsageError
from legato.cli.remote import with_client
from legato.cli.tables import table
from legato.config import add_config_argument
from legato.runtime.runindex import MAX_LIMIT, RUN_STATUSES, InvalidQueryError, RunPage

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "runs",
        help="list runs, newest first",
        description="List the deployment's runs, running or finished, newest first (by "
        "start), as a table or with --json as one JSON object {runs, cursor}. A page "
        "that is not the last ends with the --cursor that continues it.",
    )
    p.add_argument("--blueprint", metavar="ID", help="only runs of this blueprint id")
    p.add_argument("--status", choices=RUN_STATUSES, help="only runs in this status")
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="only runs started since WHEN: a duration ago (30s, 15m, 1h, 2d, 1w) "
        "or an ISO 8601 time (UTC unless it says)",
    )
    p.add_argument("--until", metavar="WHEN", help="only runs started before WHEN (as --since)")
    p.add_argument(
        "--limit", type=int, default=50, metavar="N", help=f"runs per page, 1 to {MAX_LIMIT}"
    )
    p.add_argument("--cursor", help="continue a listing (the cursor its last page printed)")
    p.add_argument("--json", action="store_true", help="print the page as one JSON object")
    p.set_defaults(func=_runs)
    add_config_argument(p)


def when(text: str, flag: str, now: datetime | None = None) -> datetime:
    """``30m`` (that long before ``now``) or an ISO 8601 time (naive: UTC)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is neither a duration (30s, 15m, 1h, 2d, 1w) nor an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _runs(args: argparse.Namespace) -> int:
    since = when(args.since, "--since") if args.since else None
    until = when(args.until, "--until") if args.until else None
    from legato.runtime.runindex import RunQuery

    try:  # check the query here: a bad one is a usage error (exit 2), before connecting
        RunQuery(args.blueprint, args.status, since, until, args.limit, args.cursor)
    except InvalidQueryError as exc:
        raise UsageError(str(exc)) from None
    page: RunPage = with_client(
        args,
        lambda c: c.list_runs(
            blueprint=args.blueprint,
            status=args.status,
            since=since,
            until=until,
            limit=args.limit,
            cursor=args.cursor,
        ),
    )
    if args.json:
        print(msgspec.json.encode(page).decode())
    else:
        print(runs_table(page))
    return 0


def runs_table(page: RunPage) -> str:
    """One line per run; a last line with the cursor when more pages follow."""
    rows = []
    for r in page.runs:
        took = (r.ended_at - r.started_at).total_seconds() if r.ended_at else None
        rows.append(
            (
                r.run_id,
                f"{r.blueprint_id} v{r.blueprint_version}",
                r.status,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{took:.3f}s" if took is not None else "",
            )
        )
    text = table(("RUN", "BLUEPRINT", "STATUS", "STARTED (UTC)", "TOOK"), rows)
    if not page.runs:
        text = "no runs"
    if page.cursor:
        text += f"\nmore: --cursor {page.cursor}"
    return text
