"""`legato topics apply`: create the jobs, commands and dead-letter topics."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from typing import Any

from legato.cli import UsageError
from legato.cli.options import add_dev_argument, require_configured
from legato.cli.output import add_output_argument, emit
from legato.config import ENV_KAFKA, KafkaSettings, add_config_argument, settings_from_cli


def register(subparsers: Any) -> None:
    topics = subparsers.add_parser("topics", help="Kafka topics")
    sub = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = sub.add_parser(
        "apply",
        help="create the jobs, commands and dead-letter topics",
        description="Create the jobs, commands and dead-letter topics with the configured "
        "partition counts; existing topics are left as they are. Prints JSON "
        "{topic: created|exists}.",
    )
    add_config_argument(apply)
    add_output_argument(apply, "json")
    add_dev_argument(apply, "Kafka")
    apply.add_argument("--partitions", type=int, help="partitions of the jobs topic")
    apply.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    from legato.adapters.kafka import apply_topics

    configured = settings_from_cli(args, os.environ).kafka
    require_configured(configured is not None, args.dev, ENV_KAFKA)
    settings = configured or KafkaSettings()
    if args.partitions is not None:
        if args.partitions < 1:
            raise UsageError(f"--partitions must be at least 1, got {args.partitions}")
        settings = replace(settings, partitions=args.partitions)
    emit(apply_topics(settings), args.output)
    return 0
