"""`legato start | status | history | cancel | signal`: steer runs of a deployment."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from legato.cli import UsageError
from legato.config import add_config_argument, settings_from_cli
from legato.schemas import StepFailed


def register(subparsers: Any) -> None:
    start = subparsers.add_parser("start", help="start a run on the deployment")
    start.add_argument("blueprint", help="a blueprint file (registered first) or a registered id")
    start.add_argument("--version", default="1", help="version of a registered id (default 1)")
    start.add_argument("--input", metavar="JSON", help="the run's input, as JSON")
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
    for name, what, as_json in (
        ("status", "header", "the header as one JSON object"),
        ("history", "events", "one JSON object per event, a line each"),
    ):
        p = subparsers.add_parser(
            name,
            help=f"print a run's {what}",
            description=f"Print a run's {what} as a table, or with --json {as_json}.",
        )
        p.add_argument("run_id")
        p.add_argument("--json", action="store_true", help=f"print {as_json}")
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
    signal.set_defaults(func=_signal)
    for p in (start, cancel, signal):
        add_config_argument(p)


def _json_arg(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag} is not valid JSON: {exc}") from exc


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


def _print(value: Any) -> None:
    print(msgspec.json.encode(value).decode())


def _start(args: argparse.Namespace) -> int:
    value = _json_arg(args.input, "--input")
    target: Any = args.blueprint
    if Path(args.blueprint).suffix in (".yaml", ".yml", ".json"):
        from legato.cli.run import import_modules
        from legato.runtime.blueprint import load_blueprint
        from legato.runtime.compiler import compile_structure

        import_modules(args.imports)
        target = compile_structure(load_blueprint(args.blueprint))

    async def action(client: Any) -> Any:
        rid = await client.start(target, value, version=args.version, run_id=args.run_id)
        if not args.wait:
            return {"run_id": rid}
        return (await client.wait(rid, timeout=args.timeout)).to_dict()

    out = with_client(args, action)
    _print(out)
    return 0 if out.get("status", "completed") == "completed" else 1


def _status(args: argparse.Namespace) -> int:
    from legato.cli.tables import failure_text, run_failure, status_table

    async def action(client: Any) -> Any:
        header = await client.status(args.run_id)
        failure = None
        if header.status == "failed" and not args.json:
            failure = run_failure(await client.history(args.run_id))
        return header, failure

    header, failure = with_client(args, action)
    if args.json:
        _print(header)
    else:
        print(status_table(header))
        if failure is not None:
            print("failure:\n" + failure_text(failure))
    return 0


def _history(args: argparse.Namespace) -> int:
    from legato.cli.tables import failures_text, history_table

    if args.follow:
        return _follow(args)
    events = with_client(args, lambda c: c.history(args.run_id))
    if not args.json:
        print(history_table(events))
        failures = failures_text(events)
        if failures:
            print("\n" + failures)
        return 0
    for event in events:
        _print(event)
    return 0


_WIDTHS = (12, 15, 24, 7)  # the columns of a followed history, but the last


def _follow(args: argparse.Namespace) -> int:
    from legato.cli.tables import HISTORY_COLUMNS, history_row

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=False)]
        return "  ".join([*padded, *cells[len(_WIDTHS) :]]).rstrip()

    async def action(client: Any) -> str:
        if not args.json:
            print(line(HISTORY_COLUMNS), flush=True)
        async for event in client.follow(args.run_id):
            text = msgspec.json.encode(event).decode() if args.json else line(history_row(event))
            if isinstance(event, StepFailed) and event.traceback and not args.json:
                text += "\n" + "\n".join(
                    "    " + row for row in event.traceback.rstrip().splitlines()
                )
            print(text, flush=True)
        return str((await client.status(args.run_id)).status)

    return 0 if with_client(args, action) == "completed" else 1


def _cancel(args: argparse.Namespace) -> int:
    done = with_client(args, lambda c: c.cancel(args.run_id, args.reason))
    _print({"run_id": args.run_id, "cancelled": done})
    return 0 if done else 1


def _signal(args: argparse.Namespace) -> int:
    data = _json_arg(args.data, "--data")
    kept = with_client(args, lambda c: c.signal(args.run_id, args.name, data, key=args.key))
    _print({"run_id": args.run_id, "signal": args.name, "kept": kept})
    return 0
