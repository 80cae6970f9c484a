"""Versioned CQL migrations from ``legato.cql``, applied once each and recorded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from legato.runtime.errors import LegatoError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cql$")
_KEYSPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


class MigrationError(LegatoError):
    """A migration cannot be applied, or an applied one was changed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def statements(self) -> list[str]:
        lines = [ln for ln in self.text.splitlines() if not ln.strip().startswith("--")]
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations() -> list[Migration]:
    found = []
    for entry in resources.files("legato.cql").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version: {versions}")
    return found


def replication_map(spec: str) -> dict[str, Any]:
    """``simple:N`` or ``nts:dc1=3,dc2=3`` as a CQL replication map."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "simple":
            return {"class": "SimpleStrategy", "replication_factor": int(rest or 1)}
        if kind == "nts" and rest:
            dcs = dict(item.split("=", 1) for item in rest.split(","))
            return {"class": "NetworkTopologyStrategy", **{k: int(v) for k, v in dcs.items()}}
    except ValueError:
        pass
    raise MigrationError(f"replication must be simple:N or nts:dc1=N,dc2=M, got {spec!r}")


def apply(session: Any, keyspace: str, replication: str = "simple:1") -> list[str]:
    """Create ``keyspace`` if needed and apply pending migrations; returns their names."""
    if not _KEYSPACE.match(keyspace):
        raise MigrationError(f"invalid keyspace name {keyspace!r}")
    rep = replication_map(replication)
    rep_cql = ", ".join(
        f"'{k}': {v!r}" if isinstance(v, str) else f"'{k}': {v}" for k, v in rep.items()
    )
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{{rep_cql}}}")
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
        "(version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
    )
    done = {
        row.version: row
        for row in session.execute(
            f"SELECT version, name, checksum FROM {keyspace}.schema_migrations"
        )
    }
    applied = []
    for mig in migrations():
        row = done.get(mig.version)
        if row is not None:
            if row.checksum != mig.checksum:
                raise MigrationError(
                    f"migration {mig.name} was changed after it was applied to {keyspace}; "
                    "add a new migration instead"
                )
            continue
        for statement in mig.statements():
            session.execute(_qualify(statement, keyspace))
        session.execute(
            f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) "
            "VALUES (%s, %s, %s, toTimestamp(now()))",
            (mig.version, mig.name, mig.checksum),
        )
        applied.append(mig.name)
    return applied


def _qualify(statement: str, keyspace: str) -> str:
    return re.sub(
        r"^(CREATE TABLE IF NOT EXISTS|CREATE TABLE|ALTER TABLE|DROP TABLE IF EXISTS)"
        r"\s+(\w+)",
        lambda m: f"{m.group(1)} {keyspace}.{m.group(2)}",
        statement,
        flags=re.IGNORECASE,
    )
