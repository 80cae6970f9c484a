"""`legato run`, `validate`, `graph` and `jsonschema`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from legato.cli import UsageError
from legato.cli.mermaid import mermaid
from legato.cli.options import add_input_arguments, read_input
from legato.cli.output import add_output_argument, emit
from legato.cli.streams import stdout_to_stderr
from legato.config import (
    DOCUMENT_LIMITS,
    Settings,
    add_config_argument,
    add_limit_arguments,
    limits_from_cli,
    settings_from_cli,
)
from legato.logs import add_arguments as add_log_arguments
from legato.logs import configure_from_cli as configure_logs
from legato.loop import run as run_loop
from legato.runtime.blueprint import load_blueprint
from legato.runtime.compiler import compile_file
from legato.runtime.errors import BlueprintError
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.nodes import import_module
from legato.runtime.registry import Registry


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a blueprint to completion and print the result",
        description="Run a blueprint (YAML or JSON) and print one JSON "
        "object: run_id, status, outputs, error, context (always valid JSON: NaN prints "
        "as null, bytes as base64; see legato.cli.output). What nodes print goes to "
        "stderr. Exit 0 completed, 1 failed, 2 invalid input.",
    )
    run.add_argument("file", help="blueprint file (.yaml, .yml or .json)")
    add_input_arguments(run)
    _import_argument(run)
    run.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    add_output_argument(run, "json")
    add_log_arguments(run, default_level="WARNING")
    add_config_argument(run)
    add_limit_arguments(run)
    run.set_defaults(func=_run)
    validate = subparsers.add_parser("validate", help="check a blueprint; list every problem")
    validate.add_argument("file")
    _import_argument(validate)
    add_limit_arguments(validate, DOCUMENT_LIMITS)
    validate.set_defaults(func=_validate)
    graph = subparsers.add_parser(
        "graph",
        help="print a blueprint as a Mermaid flowchart",
        description="Print a blueprint as a Mermaid flowchart; with --run, each node "
        "coloured by its status in that run (completed, failed, skipped, running, pending).",
    )
    graph.add_argument("file")
    graph.add_argument("--run", metavar="RUN", help="colour the nodes by this run's history")
    add_config_argument(graph)
    graph.set_defaults(func=_graph)
    schema = subparsers.add_parser(
        "jsonschema", help="print the JSON Schema of blueprints (or commands)"
    )
    schema.add_argument(
        "--commands",
        action="store_true",
        help="the commands other services send on the commands topic",
    )
    schema.set_defaults(func=_jsonschema)


def _import_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it may register nodes); repeatable",
    )


def _prepare(args: argparse.Namespace) -> None:
    """Make `uses: module:function` next to the blueprint importable, then --import."""
    for folder in (Path(args.file).resolve().parent, Path.cwd()):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import_modules(args.imports)


def import_modules(names: list[str]) -> None:
    """Import ``--import`` modules (cwd first on the path); a failure is a usage error."""
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    for name in names:
        try:
            import_module(name)
        except ImportError as exc:
            raise UsageError(f"--import {name}: {exc}") from exc


def _compile(args: argparse.Namespace, limits: Limits = DEFAULT_LIMITS) -> Registry | None:
    try:
        _prepare(args)
        registry = compile_file(args.file, limits=limits)
    except BlueprintError as exc:
        print(str(exc), file=sys.stderr)
        return None
    for warning in registry.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return registry


async def run_here(
    registry: Registry, value: Any, timeout: float | None, settings: Settings
) -> dict[str, Any]:
    """Run in this process: embedded, or as an in-process worker of a distributed
    deployment when Kafka, Cassandra and Redis are configured."""
    from legato.adapters import open_backend
    from legato.runtime.engine import Engine

    engine = Engine(await open_backend(settings), owns_backend=True, limits=settings.limits)
    try:
        engine.start_workers()
        rid = await engine.start(registry, value)
        try:
            result = await engine.wait(rid, timeout=timeout)
        except TimeoutError:
            await engine.cancel(rid, f"timed out after {timeout}s")
            result = await engine.wait(rid, timeout=30)
        return result.to_dict()
    finally:
        await engine.close()


def _run(args: argparse.Namespace) -> int:
    value = read_input(args)
    settings = settings_from_cli(args, os.environ)
    if settings.partial:
        raise UsageError(
            "distributed mode needs all of LEGATO_KAFKA, LEGATO_CASSANDRA and "
            "LEGATO_REDIS (or a --config with all three)"
        )
    if (
        args.log_level
        or args.log_format
        or {"LEGATO_LOG_LEVEL", "LEGATO_LOG_FORMAT"} & set(os.environ)
    ):
        # else Python's own last resort: warnings and errors, plainly, to stderr
        configure_logs(args, os.environ, default_level="WARNING")
    with stdout_to_stderr():  # node code (and modules it imports) may print
        registry = _compile(args, settings.limits)
        if registry is None:
            return 2
        out = run_loop(run_here(registry, value, args.timeout, settings))
    emit(out, args.output)
    return 0 if out["status"] == "completed" else 1


def _validate(args: argparse.Namespace) -> int:
    registry = _compile(args, limits_from_cli(DEFAULT_LIMITS, args, os.environ))
    if registry is None:
        return 2
    bp = registry.blueprint
    print(f"ok: {len(bp.nodes)} nodes, {len(bp.edges)} edges")
    return 0


def _graph(args: argparse.Namespace) -> int:
    try:
        bp = load_blueprint(args.file)
    except BlueprintError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    statuses = None
    if args.run:
        from legato.cli.progress import node_statuses
        from legato.cli.remote import with_client

        async def fetch(client: Any) -> tuple[Any, Any]:
            return await client.status(args.run), await client.history(args.run)

        header, events = with_client(args, fetch)
        if header.blueprint_id != bp.id:
            raise UsageError(
                f"run {args.run} runs blueprint {header.blueprint_id!r}, {args.file} is {bp.id!r}"
            )
        statuses = node_statuses(bp, events)
    print(mermaid(bp, statuses))
    return 0


def _jsonschema(args: argparse.Namespace) -> int:
    from legato.schemas.blueprint import blueprint_json_schema
    from legato.schemas.commands import command_json_schema

    schema = command_json_schema() if args.commands else blueprint_json_schema()
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0
