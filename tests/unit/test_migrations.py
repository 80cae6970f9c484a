"""Migration files: statement splitting, ordering, replication specs (no server)."""

from __future__ import annotations

import re

import pytest

from legato import migrations
from legato.cli import main
from legato.migrations import Migration, MigrationError, replication_map, split_statements


def test_statements_split_on_semicolons_outside_comments_and_quotes() -> None:
    text = """
    -- a comment; with a semicolon
    CREATE TABLE a (x int PRIMARY KEY); // trailing; comment
    /* block;
       comment */ INSERT INTO a (x, s) VALUES (1, 'it''s; fine');
    CREATE FUNCTION f() RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS $$ return 1; $$;
    """
    assert split_statements(text) == [
        "CREATE TABLE a (x int PRIMARY KEY)",
        "INSERT INTO a (x, s) VALUES (1, 'it''s; fine')",
        "CREATE FUNCTION f() RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS "
        "$$ return 1; $$",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("SELECT 'open", "unterminated ' quote"), ("/* never closed", "unterminated /* comment")],
)
def test_unterminated_quotes_and_comments_are_errors(text: str, message: str) -> None:
    with pytest.raises(MigrationError, match=re.escape(message)):
        split_statements(text)


def test_shipped_migrations_are_ordered_and_parse() -> None:
    found = migrations.migrations()
    assert [m.version for m in found] == sorted({m.version for m in found})
    assert found[0].name == "0001_runs.cql"
    runs = found[0].statements()
    assert runs[0].startswith("CREATE TABLE IF NOT EXISTS runs (")
    assert "PRIMARY KEY ((run_id), kind, k1, k2)" in runs[0]
    assert all("--" not in s for m in found for s in m.statements())


def test_two_migrations_with_one_version_are_refused() -> None:
    twins = [Migration(3, "0003_a.cql", ""), Migration(3, "0003_b.cql", "")]
    with pytest.raises(
        MigrationError, match=re.escape("0003_a.cql and 0003_b.cql share version 3")
    ):
        migrations._ordered(twins)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("simple:1", {"class": "SimpleStrategy", "replication_factor": 1}),
        ("simple:3", {"class": "SimpleStrategy", "replication_factor": 3}),
        ("nts:dc1=3,dc2=2", {"class": "NetworkTopologyStrategy", "dc1": 3, "dc2": 2}),
    ],
)
def test_replication_specs(spec: str, expected: dict[str, object]) -> None:
    assert replication_map(spec) == expected


@pytest.mark.parametrize("spec", ["simple:x", "simple:0", "nts:", "nts:dc1", "nts:d'c=1", "ring"])
def test_bad_replication_specs(spec: str) -> None:
    with pytest.raises(MigrationError, match="replication must be simple:N or nts:dc1=N"):
        replication_map(spec)


def test_a_bad_keyspace_name_is_refused_before_any_query() -> None:
    with pytest.raises(MigrationError, match="invalid keyspace name 'drop table'"):
        migrations.apply(object(), "drop table")


def test_schema_apply_with_a_bad_replication_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema", "apply", "--dev", "--replication", "nts"]) == 2
    assert "replication must be simple:N or nts:dc1=N" in capsys.readouterr().err
