"""Versioned CQL migrations from ``legato.cql``, applied once each and recorded.

Migration files (``NNNN_name.cql``) use unqualified table names: the runner
applies them on a session of its own that has done ``USE keyspace``, so the
caller's session keeps its keyspace. Each applied file is recorded in
``schema_migrations`` with its checksum; changing an applied file is an error
(add a new migration instead).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from legato.runtime.errors import LegatoError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cql$")
_KEYSPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_TABLE = "schema_migrations"


class MigrationError(LegatoError):
    """A migration cannot be applied, or an applied one was changed."""


@dataclass(frozen=True)
class Migration:
    """One ``NNNN_name.cql`` file."""

    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The file's statements, without comments, split on ``;``."""
        return split_statements(self.text)


def split_statements(text: str) -> list[str]:
    """Split CQL on ``;`` outside comments (``--``, ``//``, ``/* */``) and quotes.

    Comments are dropped; quoted text ('...', "...", $$...$$) is kept as is.
    """
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        two = text[i : i + 2]
        if two in ("--", "//"):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif two == "/*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise MigrationError("unterminated /* comment in a migration")
            current.append(" ")
            i = end + 2
        elif two == "$$" or text[i] in "'\"":
            quote = two if two == "$$" else text[i]
            end = _closing(text, i + len(quote), quote)
            current.append(text[i : end + len(quote)])
            i = end + len(quote)
        elif text[i] == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(text[i])
            i += 1
    statements.append("".join(current))
    return [" ".join(s.split()) for s in statements if s.strip()]


def _closing(text: str, start: int, quote: str) -> int:
    i = start
    while True:
        end = text.find(quote, i)
        if end < 0:
            raise MigrationError(f"unterminated {quote} quote in a migration")
        # '' and "" inside a quoted string are escaped quotes, not its end.
        if quote != "$$" and text[end + 1 : end + 2] == quote:
            i = end + 2
            continue
        return end


def migrations() -> list[Migration]:
    """Every migration shipped in ``legato.cql``, by version."""
    found = []
    for entry in resources.files("legato.cql").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    return _ordered(found)


def _ordered(found: Iterable[Migration]) -> list[Migration]:
    ordered = sorted(found, key=lambda mig: mig.version)
    seen: dict[int, str] = {}
    for mig in ordered:
        if mig.version in seen:
            raise MigrationError(
                f"migrations {seen[mig.version]} and {mig.name} share version {mig.version}"
            )
        seen[mig.version] = mig.name
    return ordered


def replication_map(spec: str) -> dict[str, Any]:
    """``simple:N`` or ``nts:dc1=3,dc2=3`` as a CQL replication map."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "simple":
            factor = int(rest or 1)
            if factor >= 1:
                return {"class": "SimpleStrategy", "replication_factor": factor}
        if kind == "nts" and rest:
            dcs = {k.strip(): int(v) for k, v in (item.split("=", 1) for item in rest.split(","))}
            if all(re.fullmatch(r"[\w.-]+", dc) for dc in dcs) and min(dcs.values()) >= 1:
                return {"class": "NetworkTopologyStrategy", **dcs}
    except ValueError:
        pass
    raise MigrationError(f"replication must be simple:N or nts:dc1=N,dc2=M (N >= 1), got {spec!r}")


def apply(
    session: Any,
    keyspace: str,
    replication: str = "simple:1",
    *,
    available: list[Migration] | None = None,
) -> list[str]:
    """Create ``keyspace`` if missing and apply its pending migrations in order.

    Args:
        session: a connected cassandra-driver ``Session`` (its keyspace is left as is).
        keyspace: the keyspace to create and migrate.
        replication: ``simple:N`` (development) or ``nts:dc1=N,...`` (production);
            used only when the keyspace is created.
        available: the migrations to apply (default: those shipped in ``legato.cql``).

    Returns:
        The names of the migrations applied now (empty when none were pending).

    Raises:
        MigrationError: a bad keyspace or replication, or an applied migration changed.
    """
    if not _KEYSPACE.match(keyspace):
        raise MigrationError(
            f"invalid keyspace name {keyspace!r} (letters, digits and _, starting with a letter)"
        )
    rep = replication_map(replication)
    rep_cql = ", ".join(
        f"'{k}': {v}" if isinstance(v, int) else f"'{k}': '{v}'" for k, v in rep.items()
    )
    todo = _ordered(available) if available is not None else migrations()
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{{rep_cql}}}")
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{_TABLE} "
        "(version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
    )
    done = {
        row.version: row
        for row in session.execute(f"SELECT version, name, checksum FROM {keyspace}.{_TABLE}")
    }
    for mig in todo:
        row = done.get(mig.version)
        if row is not None and row.checksum != mig.checksum:
            raise MigrationError(
                f"migration {mig.name} was changed after it was applied to keyspace "
                f"{keyspace} (applied as {row.name}); add a new migration instead"
            )
    pending = [mig for mig in todo if mig.version not in done]
    if not pending:
        return []
    # A session of its own, so `USE keyspace` does not change the caller's session.
    own = session.cluster.connect(keyspace)
    try:
        for mig in pending:
            for statement in mig.statements():
                try:
                    own.execute(statement)
                except Exception as exc:
                    raise MigrationError(
                        f"migration {mig.name} failed on keyspace {keyspace}: {exc}\n"
                        f"statement: {statement}"
                    ) from exc
            own.execute(
                f"INSERT INTO {_TABLE} (version, name, checksum, applied_at) "
                "VALUES (%s, %s, %s, toTimestamp(now()))",
                (mig.version, mig.name, mig.checksum),
            )
    finally:
        own.shutdown()
    return [mig.name for mig in pending]
