"""`legato schema apply` and `legato topics apply` are idempotent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from legato.cli import main

pytestmark = pytest.mark.integration


def test_schema_apply_twice_is_a_no_op(
    cassandra_session: Any, unique_name: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    keyspace = unique_name("ks")
    try:
        assert main(["schema", "apply", "--keyspace", keyspace]) == 0
        first = json.loads(capsys.readouterr().out)
        assert main(["schema", "apply", "--keyspace", keyspace]) == 0
        second = json.loads(capsys.readouterr().out)
        tables = {
            r.table_name
            for r in cassandra_session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
            )
        }
    finally:
        cassandra_session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    assert first["applied"] == ["0001_runs.cql", "0002_buckets.cql"]
    assert second["applied"] == []
    assert {"runs", "blueprints", "active_by_minute", "active_buckets", "timers"} <= tables
    assert {"timer_buckets", "schema_migrations"} <= tables


def test_a_changed_migration_is_refused(cassandra_session: Any, unique_name: Any) -> None:
    from legato import migrations

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
