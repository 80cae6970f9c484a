"""`legato worker`: run steps for a distributed deployment."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from legato.cli import UsageError
from legato.cli.run import import_modules
from legato.config import add_config_argument, settings_from_cli
from legato.logs import add_arguments as add_log_arguments
from legato.logs import configure_from_cli as configure_logs


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "worker",
        help="run steps from Kafka (distributed mode)",
        description="Consume jobs and commands; SIGTERM drains and "
        "exits 0. Needs LEGATO_KAFKA, LEGATO_CASSANDRA "
        "and LEGATO_REDIS (or --config).",
    )
    add_config_argument(p)
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (node code); repeatable",
    )
    p.add_argument("--concurrency", type=int, default=64, help="jobs handled at once")
    p.add_argument(
        "--lease-ttl",
        type=float,
        default=10.0,
        help="seconds before a dead worker's step may run elsewhere (heartbeats renew "
        "a running step's lease every quarter of this)",
    )
    p.add_argument(
        "--health-port", type=int, default=8080, help="port of /healthz and /readyz (0: none)"
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="seconds to finish jobs in hand on SIGTERM",
    )
    add_log_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from legato.worker import WorkerOptions, run_worker

    settings = settings_from_cli(args, os.environ)
    if not settings.distributed:
        raise UsageError(
            "a worker needs Kafka, Cassandra and Redis: set LEGATO_KAFKA, "
            "LEGATO_CASSANDRA and LEGATO_REDIS, or pass --config"
        )
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.lease_ttl <= 0:
        raise UsageError("--lease-ttl must be positive")
    configure_logs(args, os.environ)
    from legato.telemetry import install_otlp

    install_otlp(os.environ)  # OTEL_* variables: export by OTLP (legato[otlp])
    import_modules(args.imports)
    options = WorkerOptions(
        args.concurrency, args.health_port or None, args.drain_timeout, args.lease_ttl
    )
    return asyncio.run(run_worker(settings, options))
