"""`legato dev up | down | status | logs`: local servers for development and tests."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from legato import devserver
from legato.cli.jsontext import dumps
from legato.cli.output import add_output_argument, emit
from legato.devserver import DevOptions

# The data folder can also come from the environment, so that every `legato dev`
# call of a session (and CI) addresses the same servers.
ENV_DEV_DIR = "LEGATO_DEV_DIR"

_ACTIONS = {
    "up": "provision what is missing, start the servers, return when each answers a "
    "real request (a no-op when they are running)",
    "down": "stop the servers (SIGTERM, wait, SIGKILL after --stop-timeout)",
    "status": "print each server's state, pid, port and version as JSON",
    "logs": "print the tail of the server logs",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="local Kafka, Cassandra and Redis for development and tests",
        description="Provision (Maven Central, apt) and run Kafka, Cassandra and Redis as "
        "plain processes on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    common = _common_options()
    for name, helptext in _ACTIONS.items():
        p = sub.add_parser(name, help=helptext, description=helptext, parents=[common])
        if name == "up":
            p.add_argument(
                "--timeout",
                type=float,
                default=DevOptions.start_timeout,
                help="seconds to wait for the servers to answer (%(default)s)",
            )
        if name == "down":
            p.add_argument(
                "--stop-timeout",
                type=float,
                default=60.0,
                help="seconds to wait after SIGTERM before SIGKILL (%(default)s)",
            )
        if name == "status":
            add_output_argument(p, "json")
        if name == "logs":
            p.add_argument("server", nargs="?", choices=devserver.SERVERS)
            p.add_argument("-n", "--lines", type=int, default=40, help="lines per log (40)")
        p.set_defaults(func=_run)


def _common_options() -> argparse.ArgumentParser:
    d = DevOptions()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        help=f"the servers' data, logs and pid files (${ENV_DEV_DIR}, else {d.data_dir})",
    )
    common.add_argument(
        "--jar-dir", type=Path, default=d.jar_dir, help="cache of the Kafka/Cassandra jars"
    )
    for flag, value in (
        ("--kafka-port", d.kafka_port),
        ("--kafka-controller-port", d.kafka_controller_port),
        ("--cassandra-port", d.cassandra_port),
        ("--cassandra-storage-port", d.cassandra_storage_port),
        ("--redis-port", d.redis_port),
    ):
        common.add_argument(flag, type=int, default=value, help=f"({value})")
    common.add_argument("--kafka-heap", default=d.kafka_heap, help=f"({d.kafka_heap})")
    common.add_argument("--cassandra-heap", default=d.cassandra_heap, help=f"({d.cassandra_heap})")
    return common


def options(args: argparse.Namespace, environ: Any = os.environ) -> DevOptions:
    """The ``DevOptions`` of a parsed ``legato dev`` command line."""
    data_dir = args.data_dir or (Path(environ[ENV_DEV_DIR]) if environ.get(ENV_DEV_DIR) else None)
    kwargs: dict[str, Any] = {
        "jar_dir": args.jar_dir.expanduser().absolute(),
        "kafka_port": args.kafka_port,
        "kafka_controller_port": args.kafka_controller_port,
        "kafka_heap": args.kafka_heap,
        "cassandra_port": args.cassandra_port,
        "cassandra_storage_port": args.cassandra_storage_port,
        "cassandra_heap": args.cassandra_heap,
        "redis_port": args.redis_port,
    }
    if data_dir is not None:
        kwargs["data_dir"] = data_dir.expanduser().absolute()
    if getattr(args, "timeout", None) is not None:
        kwargs["start_timeout"] = args.timeout
    return DevOptions(**kwargs)


def _run(args: argparse.Namespace) -> int:
    # DevServerError is a LegatoError: `legato.cli.main` prints it and exits 1.
    opts = options(args)
    if args.dev_command == "up":
        timings = devserver.up(opts, say=lambda m: print(m, file=sys.stderr))
        print(json.dumps({"up": True, "seconds": {k: round(v, 1) for k, v in timings.items()}}))
    elif args.dev_command == "down":
        print(json.dumps(devserver.down(opts, timeout=args.stop_timeout)))
    elif args.dev_command == "status":
        servers = devserver.status(opts)
        if args.output == "json":
            print(dumps(servers, indent=2))
        else:
            emit([{"server": k, **v} for k, v in servers.items()], args.output, many=True)
    else:
        for name in [args.server] if args.server else devserver.SERVERS:
            print(f"==> {name}: {opts.server_dir(name) / 'server.log'} <==")
            print(devserver.logs(opts, name, args.lines))
    return 0
