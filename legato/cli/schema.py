"""`legato schema apply`: create the keyspace and apply pending CQL migrations."""

from __future__ import annotations

import argparse
import os
from typing import Any

from legato.cli import UsageError
from legato.cli.options import add_dev_argument, require_configured
from legato.cli.output import add_output_argument, emit
from legato.config import ENV_CASSANDRA, CassandraSettings, add_config_argument, settings_from_cli


def register(subparsers: Any) -> None:
    schema = subparsers.add_parser(
        "schema",
        help="Cassandra schema migrations",
        description="Versioned CQL migrations (legato.cql), recorded in schema_migrations.",
    )
    sub = schema.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = sub.add_parser(
        "apply",
        help="create the keyspace if missing and apply pending migrations",
        description="Create the keyspace if missing and apply the pending migrations in "
        "order; a second run is a no-op. Prints JSON {keyspace, applied}.",
    )
    add_config_argument(apply)
    add_output_argument(apply, "json")
    add_dev_argument(apply, "Cassandra")
    apply.add_argument("--keyspace", help="keyspace (default: from the settings, 'legato')")
    apply.add_argument(
        "--replication",
        help="used when creating the keyspace: simple:N (development, default simple:1) or "
        "'nts:dc1=3,dc2=3' (production)",
    )
    apply.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    from legato import migrations
    from legato.adapters.cassandra import connect

    configured = settings_from_cli(args, os.environ).cassandra
    require_configured(configured is not None, args.dev, ENV_CASSANDRA)
    settings = configured or CassandraSettings()
    keyspace = args.keyspace or settings.keyspace
    replication = args.replication or settings.replication
    try:
        migrations.replication_map(replication)  # a bad spec fails before connecting
    except migrations.MigrationError as exc:
        raise UsageError(str(exc)) from None
    cluster, session = connect(settings)
    try:
        applied = migrations.apply(session, keyspace, replication)
    finally:
        cluster.shutdown()
    emit({"keyspace": keyspace, "applied": applied}, args.output)
    return 0
