"""`legato reconcile --once | --loop`: resume stalled runs (a Kubernetes CronJob)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from typing import Any

from legato.cli import UsageError
from legato.cli.options import port_in_use
from legato.cli.output import add_output_argument, emit
from legato.config import add_config_argument, settings_from_cli
from legato.logs import add_arguments as add_log_arguments
from legato.logs import configure_from_cli as configure_logs
from legato.loop import run as run_loop

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h``, ``500ms`` as seconds."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "reconcile",
        help="resume stalled runs from their history",
        description="Find runs without progress for --stalled-after and resume them. "
        "Prints JSON stats (scanned, stalled, resumed, failed, jobs, errors); "
        "exits 1 if a run could not be resumed.",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one pass, then exit (CronJob)")
    mode.add_argument("--loop", action="store_true", help="a pass every --interval")
    p.add_argument(
        "--stalled-after",
        type=duration,
        default=60.0,
        metavar="DURATION",
        help="no progress for this long means stalled (default 60s)",
    )
    p.add_argument("--interval", type=duration, default=30.0, metavar="DURATION")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        help="with --loop: serve /metrics and /healthz on this port (default 0: none)",
    )
    add_output_argument(p, "json")
    add_config_argument(p)
    add_log_arguments(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_cli(args, os.environ)
    if not settings.distributed:
        raise UsageError(
            "the reconciler works on a deployment: set LEGATO_KAFKA, "
            "LEGATO_CASSANDRA and LEGATO_REDIS, or pass --config"
        )
    configure_logs(args, os.environ)
    from legato.telemetry import install_otlp

    install_otlp(os.environ)  # OTEL_* variables: export by OTLP (legato[otlp])
    return run_loop(_passes(settings, args))


async def _passes(settings: Any, args: argparse.Namespace) -> int:
    from legato.adapters import open_backend
    from legato.reconciler import Reconciler

    server = None
    if args.metrics_port:
        from legato.telemetry import install_metrics
        from legato.worker import PortInUseError, serve_health

        async def ready() -> None:
            return None

        try:
            server = await serve_health(args.metrics_port, ready, install_metrics())
        except PortInUseError as exc:
            raise UsageError(port_in_use(exc.port, "--metrics-port", exc.reason)) from None
    backend = await open_backend(settings)
    try:
        reconciler = Reconciler(backend, stalled_after=args.stalled_after, limits=settings.limits)
        while True:
            stats = await reconciler.run_once()
            emit(stats.to_dict(), args.output)
            sys.stdout.flush()
            if args.once:
                return 1 if stats.errors else 0
            await asyncio.sleep(args.interval)
    finally:
        await backend.close()
        if server is not None:
            server.close()
