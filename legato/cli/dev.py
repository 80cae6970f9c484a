"""`legato dev up | down | status | logs`: local servers for development and tests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from legato import devserver
from legato.devserver import DevOptions, DevServerError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="local Kafka, Cassandra and Redis for development and tests",
        description="Provision (Maven Central, apt) and run Kafka, Cassandra and Redis "
        "on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    defaults = DevOptions()
    for name, helptext in (
        ("up", "provision and start the servers; wait until they answer"),
        ("down", "stop the servers (SIGTERM, then wait)"),
        ("status", "print each server's state as JSON"),
        ("logs", "print the tail of the server logs"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "--data-dir",
            type=Path,
            default=defaults.data_dir,
            help=f"where the servers keep their data and logs ({defaults.data_dir})",
        )
        if name == "up":
            p.add_argument(
                "--jar-dir",
                type=Path,
                default=defaults.jar_dir,
                help=f"cache of the Kafka/Cassandra jars ({defaults.jar_dir})",
            )
            p.add_argument("--kafka-heap", default=defaults.kafka_heap)
            p.add_argument("--cassandra-heap", default=defaults.cassandra_heap)
            p.add_argument(
                "--timeout",
                type=float,
                default=defaults.start_timeout,
                help="seconds to wait for the servers to answer",
            )
        if name != "logs":
            p.add_argument("--kafka-port", type=int, default=defaults.kafka_port)
            p.add_argument("--cassandra-port", type=int, default=defaults.cassandra_port)
            p.add_argument("--redis-port", type=int, default=defaults.redis_port)
        else:
            p.add_argument("server", nargs="?", choices=devserver.SERVERS)
            p.add_argument("-n", "--lines", type=int, default=40)
        p.set_defaults(func=_run)


def _options(args: argparse.Namespace) -> DevOptions:
    kwargs: dict[str, Any] = {"data_dir": args.data_dir}
    for attr, field in (
        ("jar_dir", "jar_dir"),
        ("kafka_heap", "kafka_heap"),
        ("cassandra_heap", "cassandra_heap"),
        ("timeout", "start_timeout"),
        ("kafka_port", "kafka_port"),
        ("cassandra_port", "cassandra_port"),
        ("redis_port", "redis_port"),
    ):
        if hasattr(args, attr):
            kwargs[field] = getattr(args, attr)
    return DevOptions(**kwargs)


def _run(args: argparse.Namespace) -> int:
    opts = _options(args)
    try:
        if args.dev_command == "up":
            timings = devserver.up(opts, say=lambda m: print(m, file=sys.stderr))
            print(json.dumps({"up": True, "seconds": {k: round(v, 1) for k, v in timings.items()}}))
        elif args.dev_command == "down":
            print(json.dumps(devserver.down(opts)))
        elif args.dev_command == "status":
            print(json.dumps(devserver.status(opts), indent=2))
        else:
            for name in [args.server] if args.server else devserver.SERVERS:
                print(f"==> {name}: {opts.server_dir(name) / 'server.log'} <==")
                print(devserver.logs(opts, name, args.lines))
    except DevServerError as exc:
        print(f"legato dev {args.dev_command}: {exc}", file=sys.stderr)
        return 1
    return 0
