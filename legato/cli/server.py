"""`legato server`: the REST API and web UI, embedded or for a deployment."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from legato.cli import UsageError
from legato.cli.run import import_modules
from legato.config import ENV_API_TOKEN, add_config_argument, settings_from_cli


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "server",
        help="serve the REST API (/api/v1) and the web UI",
        description="Serve /api/v1 (OpenAPI at /api/v1/openapi.json) and the web UI at /. "
        "Without LEGATO_KAFKA, LEGATO_CASSANDRA and LEGATO_REDIS (or --config), an "
        "embedded engine runs the steps in this process. Needs legato[server].",
    )
    add_config_argument(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (node code) before serving; repeatable",
    )
    p.add_argument(
        "--blueprint",
        dest="blueprints",
        action="append",
        default=[],
        metavar="FILE",
        help="register this blueprint file at start; repeatable",
    )
    p.add_argument(
        "--token",
        help=f"require 'Authorization: Bearer TOKEN' on /api/ (default: ${ENV_API_TOKEN})",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host without a token",
    )
    p.add_argument("--max-body", type=int, default=1024 * 1024, help="largest request body, bytes")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"needs the server extra ({exc.name} is missing): pip install 'legato[server]'"
        ) from None
    from legato.config import ConfigError
    from legato.server.serve import ServerOptions, check_binding, serve

    settings = settings_from_cli(args, os.environ)
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be from 0 to 65535")
    if args.max_body < 1024:
        raise UsageError("--max-body must be at least 1024 bytes")
    token = args.token or os.environ.get(ENV_API_TOKEN) or None
    options = ServerOptions(args.host, args.port, token, args.insecure, args.max_body)
    try:
        check_binding(options)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    import_modules(args.imports)
    registries = [_compile(path) for path in args.blueprints]
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(settings, options, registries))


def _compile(path: str) -> Any:
    from legato.runtime.compiler import compile_file
    from legato.runtime.errors import BlueprintError

    try:
        return compile_file(path)
    except BlueprintError as exc:
        raise UsageError(str(exc)) from None
