"""Connecting to Cassandra from ``CassandraSettings``; driver errors become Legato's."""

from __future__ import annotations

import asyncio
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

from legato.adapters.cassandra.settings import CassandraSettings
from legato.runtime.errors import BackendUnavailableError, ConfigError


def consistency(name: str) -> int:
    try:
        return int(getattr(ConsistencyLevel, name.upper()))
    except AttributeError:
        raise ConfigError(f"unknown Cassandra consistency level {name!r}") from None


def serial_consistency(name: str) -> int:
    """``SERIAL`` or ``LOCAL_SERIAL``: the Paxos scope of the conditional writes."""
    if name.upper() not in ("SERIAL", "LOCAL_SERIAL"):
        raise ConfigError(f"serial consistency must be SERIAL or LOCAL_SERIAL, not {name!r}")
    return int(getattr(ConsistencyLevel, name.upper()))


def connect(settings: CassandraSettings, *, timeout: float = 10.0) -> tuple[Cluster, Any]:
    """A connected (cluster, session) pair; ``settings.options`` override ``Cluster``'s
    arguments. Raises ``BackendUnavailableError`` (no host answers) or ``ConfigError``."""
    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc))
    profile = ExecutionProfile(
        load_balancing_policy=policy,
        consistency_level=consistency(settings.consistency),
        # Lightweight transactions (first resolution wins, fencing, finish from
        # running) run Paxos across every data center by default: LOCAL_SERIAL
        # would let two DCs each accept a first resolution of the same step.
        serial_consistency_level=serial_consistency(settings.serial_consistency),
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


class CassandraConnection:
    """A connected cluster and its session: the resource the Cassandra ports share
    (probed by the store; shut down once, after the ports are closed)."""

    def __init__(self, cluster: Cluster, session: Any) -> None:
        self.cluster = cluster
        self.session = session
        self._closed = False

    @classmethod
    async def open(cls, settings: CassandraSettings) -> CassandraConnection:
        loop = asyncio.get_running_loop()
        cluster, session = await loop.run_in_executor(None, connect, settings)
        return cls(cluster, session)

    async def probe(self) -> str | None:
        return None  # the store reports the hosts' state

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.get_running_loop().run_in_executor(None, self.cluster.shutdown)
