"""Connecting to Cassandra from ``CassandraSettings``; driver errors become Legato's."""

from __future__ import annotations

import ssl
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)

from legato.config import CassandraSettings, ConfigError
from legato.runtime.errors import BackendUnavailableError


def consistency(name: str) -> int:
    try:
        return int(getattr(ConsistencyLevel, name.upper()))
    except AttributeError:
        raise ConfigError(f"unknown Cassandra consistency level {name!r}") from None


def serial_consistency(name: str) -> int:
    local = name.upper().startswith("LOCAL_")
    return int(ConsistencyLevel.LOCAL_SERIAL if local else ConsistencyLevel.SERIAL)


def connect(settings: CassandraSettings, *, timeout: float = 10.0) -> tuple[Cluster, Any]:
    """A connected (cluster, session) pair; ``settings.options`` override ``Cluster``'s
    arguments. Raises ``BackendUnavailableError`` (no host answers) or ``ConfigError``."""
    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc))
    profile = ExecutionProfile(
        load_balancing_policy=policy,
        consistency_level=consistency(settings.consistency),
        # Lightweight transactions (first resolution wins, finish from running) use
        # Paxos at the serial level matching the configured one: local to the DC
        # for LOCAL_* levels, so a run's writes never wait on another DC.
        serial_consistency_level=serial_consistency(settings.consistency),
        request_timeout=timeout,
    )
    kwargs: dict[str, Any] = {}
    if settings.username:
        kwargs["auth_provider"] = PlainTextAuthProvider(settings.username, settings.password or "")
    if settings.tls:
        context = ssl.create_default_context(cafile=settings.tls_ca_file)
        kwargs["ssl_context"] = context
    kwargs.update(
        port=settings.port,
        connect_timeout=timeout,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=5,
        # The driver's default backs off to 10 minutes between reconnections: after
        # a Cassandra restart a worker would sit idle that long. Cap it at seconds.
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0),
    )
    try:
        cluster = Cluster(list(settings.hosts), **{**kwargs, **settings.options})
    except TypeError as exc:
        raise ConfigError(f"Cassandra options: {exc}") from exc
    try:
        return cluster, cluster.connect()
    except NoHostAvailable as exc:
        cluster.shutdown()
        hosts = ",".join(settings.hosts)
        raise BackendUnavailableError(f"Cassandra at {hosts}:{settings.port}: {exc}") from exc
