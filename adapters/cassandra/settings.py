"""Cassandra connection settings: contact points, keyspace, consistency, credentials, TLS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from legato.adapters.urls import redact, split_url, unknown_keys, url_bool, url_hosts
from legato.runtime.errors import ConfigError


@dataclass(frozen=True)
class CassandraSettings:
    """Cassandra contact points, keyspace, consistency, credentials and TLS.

    ``options`` are passed to cassandra-driver's ``Cluster`` as keyword arguments
    (e.g. ``compression``, ``idle_heartbeat_interval``).

    Attributes:
        hosts: Contact points; the driver discovers the rest of the cluster.
        port: Native protocol port of every host.
        keyspace: Keyspace of the run history, timers and blueprints.
        consistency: Consistency level of reads and writes (``LOCAL_QUORUM``,
            ``QUORUM``, ``ONE``, ...).
        serial_consistency: Paxos scope of the conditional writes that decide a
            step's first resolution and its fencing: ``SERIAL`` (every data center;
            required when workers of several data centers share runs) or
            ``LOCAL_SERIAL`` (faster, correct only if each run's steps are worked in
            one data center).
        local_dc: Local data center of DC-aware load balancing; unset: the data center
            of the first contact point that answers.
        username: User for password authentication; unset: none.
        password: Password of ``username``; never printed.
        replication: Replication of the keyspace when ``legato schema apply`` creates
            it: ``simple:N`` or ``nts:dc1=3,dc2=3``.
        tls: Connect with TLS.
        tls_ca_file: CA certificate file that verifies the servers; implies TLS in a URL.
        retention_days: Days a finished run is kept after it ended: its history and its
            run index rows expire together (Cassandra TTLs written when it ends); unset:
            kept for ever. Running runs never expire.
        options: Keyword arguments of cassandra-driver's ``Cluster``, as they are.
    """

    hosts: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    keyspace: str = "legato"
    consistency: str = "LOCAL_QUORUM"
    serial_consistency: str = "SERIAL"
    local_dc: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    replication: str = "simple:1"
    tls: bool = False
    tls_ca_file: str | None = None
    retention_days: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        days = self.retention_days
        if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
            raise ConfigError(
                f"retention_days must be from 1 to {MAX_RETENTION_DAYS} (days), got {days}"
            )

    @classmethod
    def from_url(cls, url: str) -> CassandraSettings:
        """``cassandra://user:pass@h1,h2:9042/keyspace?consistency=QUORUM&dc=dc1&tls=true``.

        Query keys: ``consistency``, ``serial`` (``SERIAL``/``LOCAL_SERIAL``), ``dc``
        (local data center), ``replication``, ``retention_days``,
        ``tls`` and ``ca`` (a CA file; implies ``tls``).
        """
        parts = split_url(url, "Cassandra")
        if parts.scheme != "cassandra":
            raise ConfigError(f"Cassandra URL must start with cassandra://, got {redact(url)!r}")
        hosts = url_hosts(parts.netloc, 0, "Cassandra")
        ports = {p for _, p in hosts if p}
        if len(ports) > 1:
            raise ConfigError("Cassandra URL: all hosts must use the same port")
        kwargs: dict[str, Any] = {
            "hosts": tuple(h for h, _ in hosts),
            "port": ports.pop() if ports else 9042,
        }
        if parts.path.strip("/"):
            kwargs["keyspace"] = parts.path.strip("/")
        if parts.username:
            kwargs["username"] = unquote(parts.username)
            kwargs["password"] = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            unknown_keys([key], list(CASSANDRA_URL_KEYS), "Cassandra URL")
            if key == "tls":
                kwargs["tls"] = url_bool(value, "Cassandra URL: tls")
            elif key == "ca":
                kwargs.update(tls=True, tls_ca_file=value)
            elif key == "retention_days":
                kwargs["retention_days"] = _days(value)
            else:
                kwargs[CASSANDRA_URL_KEYS[key]] = value
        return cls(**kwargs)


# URL query keys that set a field: {query key: field name}.
CASSANDRA_URL_KEYS = {
    "consistency": "consistency",
    "serial": "serial_consistency",
    "dc": "local_dc",
    "replication": "replication",
    "tls": "tls",
    "ca": "tls_ca_file",
    "retention_days": "retention_days",
}

MAX_RETENTION_DAYS = 7300  # Cassandra's longest TTL is 20 years


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"Cassandra URL: retention_days must be a whole number of days from 1 to "
            f"{MAX_RETENTION_DAYS}, got {value!r}"
        )
    return int(value)
