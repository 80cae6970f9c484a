"""`legato start | status | history | cancel | signal`: steer runs of a deployment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from legato.cli import UsageError
from legato.cli.options import add_input_arguments, json_value, read_input
from legato.cli.output import add_output_argument, emit, show_table
from legato.config import add_config_argument, settings_from_cli
from legato.runtime.errors import LegatoError


def register(subparsers: Any) -> None:
    start = subparsers.add_parser("start", help="start a run on the deployment")
    start.add_argument("blueprint", help="a blueprint file (registered first) or a registered id")
    start.add_argument(
        "--blueprint-version", help="version of a registered id (default 1)", metavar="V"
    )
    start.add_argument(
        "--version",
        dest="deprecated_version",
        metavar="V",
        help="deprecated spelling of --blueprint-version (removed in the next release)",
    )
    add_input_arguments(start)
    start.add_argument("--run-id", help="an id for the run (starting it twice starts once)")
    start.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE before compiling a file",
    )
    start.add_argument("--wait", action="store_true", help="wait and print the result")
    start.add_argument("--timeout", type=float, help="with --wait: give up after S seconds")
    start.set_defaults(func=_start)
    for name, what, json_alias in (("status", "header", "json"), ("history", "events", "jsonl")):
        p = subparsers.add_parser(
            name,
            help=f"print a run's {what}",
            description=f"Print a run's {what}: a table (default), one JSON document "
            "(-o json) or one JSON object a line (-o jsonl).",
        )
        p.add_argument("run_id")
        add_output_argument(p, "table", json_alias)
        p.set_defaults(func=_status if name == "status" else _history)
        add_config_argument(p)
    cancel = subparsers.add_parser("cancel", help="cancel a run: no new step starts")
    cancel.add_argument("run_id")
    cancel.add_argument("--reason", default="")
    cancel.set_defaults(func=_cancel)
    signal = subparsers.add_parser("signal", help="send a named signal to a run")
    signal.add_argument("run_id")
    signal.add_argument("name")
    signal.add_argument("--data", metavar="JSON", help="the signal's data, as JSON")
    signal.add_argument("--key", help="the signal's key, if the wait names one")
    signal.set_defaults(func=_signal)
    for p in (start, cancel, signal):
        add_output_argument(p, "json")
        add_config_argument(p)


def _json_arg(text: str | None, flag: str) -> Any:
    return None if text is None else json_value(text, flag)


def with_client(args: argparse.Namespace, action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``action(client)`` on a client of the configured deployment."""
    from legato.client import Client

    settings = settings_from_cli(args, os.environ)
    if not settings.distributed:
        raise UsageError(
            "this command talks to a deployment: set LEGATO_KAFKA, "
            "LEGATO_CASSANDRA and LEGATO_REDIS, or pass --config"
        )

    async def go() -> Any:
        async with await Client.connect(settings) as client:
            return await action(client)

    return asyncio.run(go())


def _blueprint_version(args: argparse.Namespace) -> str:
    if args.deprecated_version is None:
        return str(args.blueprint_version or "1")
    if args.blueprint_version is not None:
        raise UsageError("give --blueprint-version only (--version is its old spelling)")
    print(
        "legato start: warning: --version is deprecated and goes in the next release; "
        "use --blueprint-version (legato --version prints Legato's own version)",
        file=sys.stderr,
    )
    return str(args.deprecated_version)


def _start(args: argparse.Namespace) -> int:
    version = _blueprint_version(args)
    value = read_input(args)
    target: Any = args.blueprint
    if Path(args.blueprint).suffix in (".yaml", ".yml", ".json"):
        from legato.cli.run import import_modules
        from legato.runtime.blueprint import load_blueprint
        from legato.runtime.compiler import compile_structure

        import_modules(args.imports)
        target = compile_structure(load_blueprint(args.blueprint))

    async def action(client: Any) -> Any:
        rid = await client.start(target, value, version=version, run_id=args.run_id)
        if not args.wait:
            return {"run_id": rid}
        try:
            return (await client.wait(rid, timeout=args.timeout)).to_dict()
        except TimeoutError:
            raise LegatoError(
                f"run {rid} did not finish within {args.timeout}s; it goes on "
                f"(legato status {rid})"
            ) from None

    out = with_client(args, action)
    emit(out, args.output)
    return 0 if out.get("status", "completed") == "completed" else 1


def _status(args: argparse.Namespace) -> int:
    from legato.cli.tables import status_rows

    header = with_client(args, lambda c: c.status(args.run_id))
    if args.output == "table":
        show_table(None, status_rows(header))
    else:
        emit(header, args.output)
    return 0


def _history(args: argparse.Namespace) -> int:
    from legato.cli.tables import HISTORY_COLUMNS, history_rows

    events = with_client(args, lambda c: c.history(args.run_id))
    if args.output == "table":
        show_table(HISTORY_COLUMNS, history_rows(events))
    else:
        emit(events, args.output, many=True)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    done = with_client(args, lambda c: c.cancel(args.run_id, args.reason))
    emit({"run_id": args.run_id, "cancelled": done}, args.output)
    return 0 if done else 1


def _signal(args: argparse.Namespace) -> int:
    data = _json_arg(args.data, "--data")
    kept = with_client(args, lambda c: c.signal(args.run_id, args.name, data, key=args.key))
    emit({"run_id": args.run_id, "signal": args.name, "kept": kept}, args.output)
    return 0
