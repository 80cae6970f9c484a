"""`legato start | status | history | cancel | signal`: steer runs of a deployment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from legato.cli import UsageError
from legato.cli.options import add_input_arguments, json_value, read_input
from legato.cli.output import add_output_argument, emit, show_table
from legato.config import add_config_argument, settings_from_cli
from legato.runtime.errors import LegatoError
from legato.schemas import StepFailed


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
        if name == "history":
            p.add_argument(
                "-f",
                "--follow",
                action="store_true",
                help="then print each event as it is recorded, until the run ends; exit 0 "
                "if it completed, 1 if it failed or was cancelled",
            )
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
    signal.add_argument("--id", help="an id for the signal (sending it twice keeps one)")
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
    from legato.cli.tables import failure_text, run_failure, status_rows

    async def action(client: Any) -> Any:
        header = await client.status(args.run_id)
        failure = None
        if header.status == "failed" and args.output == "table":
            failure = run_failure(await client.history(args.run_id))
        return header, failure

    header, failure = with_client(args, action)
    if args.output == "table":
        show_table(None, status_rows(header))
        if failure is not None:
            print("failure:\n" + failure_text(failure))
    else:
        emit(header, args.output)
    return 0


def _history(args: argparse.Namespace) -> int:
    from legato.cli.tables import HISTORY_COLUMNS, failures_text, history_rows

    if args.follow:
        return _follow(args)
    events = with_client(args, lambda c: c.history(args.run_id))
    if args.output == "table":
        show_table(HISTORY_COLUMNS, history_rows(events))
        failures = failures_text(events)
        if failures:
            print("\n" + failures)
    else:
        emit(events, args.output, many=True)
    return 0


_WIDTHS = (12, 15, 24, 7)  # the columns of a followed history, but the last


def _follow(args: argparse.Namespace) -> int:
    from legato.cli.tables import HISTORY_COLUMNS, history_row

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=False)]
        return "  ".join([*padded, *cells[len(_WIDTHS) :]]).rstrip()

    as_json = args.output != "table"

    async def action(client: Any) -> str:
        if not as_json:
            print(line(HISTORY_COLUMNS), flush=True)
        async for event in client.follow(args.run_id):
            text = msgspec.json.encode(event).decode() if as_json else line(history_row(event))
            if isinstance(event, StepFailed) and event.traceback and not as_json:
                text += "\n" + "\n".join(
                    "    " + row for row in event.traceback.rstrip().splitlines()
                )
            print(text, flush=True)
        return str((await client.status(args.run_id)).status)

    return 0 if with_client(args, action) == "completed" else 1


def _cancel(args: argparse.Namespace) -> int:
    done = with_client(args, lambda c: c.cancel(args.run_id, args.reason))
    emit({"run_id": args.run_id, "cancelled": done}, args.output)
    return 0 if done else 1


def _signal(args: argparse.Namespace) -> int:
    data = _json_arg(args.data, "--data")
    kept = with_client(
        args, lambda c: c.signal(args.run_id, args.name, data, key=args.key, dedupe=args.id)
    )
    emit({"run_id": args.run_id, "signal": args.name, "kept": kept}, args.output)
    return 0
