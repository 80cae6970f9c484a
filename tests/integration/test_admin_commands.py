"""`legato schema apply` and `legato topics apply` are idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from legato import migrations
from legato.cli import main

pytestmark = pytest.mark.integration


def test_schema_apply_twice_is_a_no_op(
    cassandra_session: Any, unique_name: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    keyspace = unique_name("ks")
    try:
        assert main(["schema", "apply", "--dev", "--keyspace", keyspace]) == 0
        first = json.loads(capsys.readouterr().out)
        assert main(["schema", "apply", "--dev", "--keyspace", keyspace]) == 0
        second = json.loads(capsys.readouterr().out)
        tables = {
            r.table_name
            for r in cassandra_session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
            )
        }
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    assert first["applied"] == [m.name for m in migrations.migrations()]
    assert second["applied"] == []
    assert {"runs", "blueprints", "active_by_minute", "active_buckets", "timers"} <= tables
    assert {"timer_buckets", "schema_migrations"} <= tables


def test_a_changed_migration_is_refused(cassandra_session: Any, unique_name: Any) -> None:
    keyspace = unique_name("ks")
    try:
        migrations.apply(cassandra_session, keyspace)
        cassandra_session.execute(
            f"UPDATE {keyspace}.schema_migrations SET checksum = 'x' WHERE version = 1"
        )
        with pytest.raises(migrations.MigrationError, match="was changed after it was applied"):
            migrations.apply(cassandra_session, keyspace)
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")


def test_only_pending_migrations_run_on_a_session_of_their_own(
    cassandra_session: Any, unique_name: Any
) -> None:
    keyspace = unique_name("ks")
    shipped = migrations.migrations()
    extra = migrations.Migration(
        9999,
        "9999_extra.cql",
        "-- a later migration; unqualified names\n"
        "CREATE TABLE IF NOT EXISTS extra (id text PRIMARY KEY, v text);\n"
        "INSERT INTO extra (id, v) VALUES ('a', 'x;y');\n",
    )
    before = cassandra_session.keyspace
    try:
        assert migrations.apply(cassandra_session, keyspace) == [m.name for m in shipped]
        assert migrations.apply(cassandra_session, keyspace, available=[*shipped, extra]) == [
            "9999_extra.cql"
        ]
        assert migrations.apply(cassandra_session, keyspace, available=[*shipped, extra]) == []
        row = cassandra_session.execute(f"SELECT v FROM {keyspace}.extra WHERE id = 'a'").one()
        assert row.v == "x;y"
        assert cassandra_session.keyspace == before
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")


def test_a_failing_statement_names_its_migration(cassandra_session: Any, unique_name: Any) -> None:
    keyspace = unique_name("ks")
    broken = migrations.Migration(1, "0001_broken.cql", "CREATE TABLE nope (id text);")
    try:
        with pytest.raises(migrations.MigrationError) as err:
            migrations.apply(cassandra_session, keyspace, available=[broken])
        assert f"migration 0001_broken.cql failed on keyspace {keyspace}" in str(err.value)
        assert "statement: CREATE TABLE nope (id text)" in str(err.value)
        assert migrations.apply(cassandra_session, keyspace, available=[]) == []
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")


def test_topics_apply_twice(
    kafka_bootstrap: str, unique_name: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = unique_name("t")
    config = tmp_path / "legato.toml"
    config.write_text(
        f'[kafka]\nurl = "kafka://{kafka_bootstrap}"\njobs_topic = "{prefix}.jobs"\n'
        f'commands_topic = "{prefix}.commands"\ndeadletter_topic = "{prefix}.dlq"\n'
        "partitions = 4\n"
    )
    assert main(["topics", "apply", "--config", str(config)]) == 0
    assert set(json.loads(capsys.readouterr().out).values()) == {"created"}
    assert main(["topics", "apply", "--config", str(config)]) == 0
    assert set(json.loads(capsys.readouterr().out).values()) == {"exists"}


def test_bad_config_is_a_usage_error(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "legato.toml"
    config.write_text('[kafka]\nbootstrapp = "x"\n')
    assert main(["topics", "apply", "--config", str(config)]) == 2
    assert "unknown key 'bootstrapp' (did you mean 'bootstrap'?)" in capsys.readouterr().err
