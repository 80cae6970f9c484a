"""Defect 14 of issue 10: first-resolution-wins across data centres (Paxos at SERIAL
unless LOCAL_SERIAL is asked for), and no run header column written by both
conditional and plain writes (their timestamps do not mix)."""

from __future__ import annotations

import re

import pytest
from cassandra import ConsistencyLevel

from legato.adapters.cassandra.session import connect, serial_consistency
from legato.adapters.cassandra.settings import CassandraSettings
from legato.adapters.cassandra.store import statements
from legato.runtime.errors import ConfigError

STATICS = ("blueprint_id", "blueprint_version", "input", "status", "error", "created_at",
           "updated_at", "parked_at", "parked_until")  # fmt: skip


def test_defect_14_paxos_is_serial_across_data_centres_by_default() -> None:
    assert CassandraSettings().serial_consistency == "SERIAL"
    assert serial_consistency("SERIAL") == ConsistencyLevel.SERIAL
    local = CassandraSettings.from_url("cassandra://h:9042/ks?consistency=LOCAL_QUORUM")
    assert local.serial_consistency == "SERIAL"  # LOCAL_QUORUM no longer implies LOCAL_SERIAL
    opted = CassandraSettings.from_url("cassandra://h:9042/ks?serial=LOCAL_SERIAL")
    assert serial_consistency(opted.serial_consistency) == ConsistencyLevel.LOCAL_SERIAL


def test_an_unknown_serial_consistency_is_a_config_error() -> None:
    bad = CassandraSettings.from_url("cassandra://127.0.0.1:1/ks?serial=QUORUM")
    with pytest.raises(ConfigError, match="SERIAL or LOCAL_SERIAL"):
        connect(bad)


def test_defect_14_every_write_of_the_run_header_is_conditional() -> None:
    for name, cql in statements("ks").items():
        if not cql.startswith(("INSERT", "UPDATE")) or " ks.runs " not in f" {cql} ":
            continue
        if cql.startswith("INSERT"):
            columns = re.search(r"\(([^)]*)\)", cql)
            assert columns is not None
            written = {c.strip() for c in columns.group(1).split(",")}
        else:
            written = set(re.findall(r"(\w+) = \?", cql.split(" WHERE ")[0]))
        if written & set(STATICS):
            assert " IF " in cql, f"{name} writes run header columns without a condition"
