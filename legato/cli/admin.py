"""`legato schema apply` and `legato topics apply`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from legato.config import (
    CassandraSettings,
    ConfigError,
    KafkaSettings,
    add_config_argument,
    settings_from_cli,
)
from legato.runtime.errors import LegatoError


def register(subparsers: Any) -> None:
    schema = subparsers.add_parser("schema", help="Cassandra schema migrations")
    ssub = schema.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = ssub.add_parser("apply", help="create the keyspace and apply pending migrations")
    add_config_argument(apply)
    apply.add_argument("--keyspace", help="keyspace (default: from the settings, 'legato')")
    apply.add_argument(
        "--replication", help="simple:N (development) or nts:dc1=3,dc2=3 (production)"
    )
    apply.set_defaults(func=_schema_apply)
    topics = subparsers.add_parser("topics", help="Kafka topics")
    tsub = topics.add_subparsers(dest="action", metavar="ACTION", required=True)
    tapply = tsub.add_parser("apply", help="create the jobs, commands and dead-letter topics")
    add_config_argument(tapply)
    tapply.add_argument("--partitions", type=int, help="partitions of the jobs topic")
    tapply.set_defaults(func=_topics_apply)


def _schema_apply(args: argparse.Namespace) -> int:
    from legato import migrations
    from legato.adapters.cassandra import connect

    try:
        settings = settings_from_cli(args, os.environ).cassandra or CassandraSettings()
        keyspace = args.keyspace or settings.keyspace
        cluster, session = connect(settings)
        try:
            applied = migrations.apply(session, keyspace, args.replication or settings.replication)
        finally:
            cluster.shutdown()
    except ConfigError as exc:
        print(f"legato schema apply: {exc}", file=sys.stderr)
        return 2
    except LegatoError as exc:
        print(f"legato schema apply: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"keyspace": keyspace, "applied": applied}))
    return 0


def _topics_apply(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from legato.adapters.kafka import apply_topics

    try:
        settings = settings_from_cli(args, os.environ).kafka or KafkaSettings()
        if args.partitions:
            settings = replace(settings, partitions=args.partitions)
        result = apply_topics(settings)
    except ConfigError as exc:
        print(f"legato topics apply: {exc}", file=sys.stderr)
        return 2
    except LegatoError as exc:
        print(f"legato topics apply: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0
