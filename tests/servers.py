"""Finding the real servers for integration tests.

Addresses come from LEGATO_KAFKA / LEGATO_CASSANDRA / LEGATO_REDIS, or the
`legato dev up` defaults. A missing server skips the test on a laptop and
fails it under CI (the environment variable CI is set).
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from legato.config import CassandraSettings, KafkaSettings, RedisSettings, Settings

IN_CI = bool(os.environ.get("CI"))


def settings() -> Settings:
    env = os.environ
    return Settings(
        KafkaSettings.from_url(env.get("LEGATO_KAFKA", "kafka://127.0.0.1:9092")),
        CassandraSettings.from_url(env.get("LEGATO_CASSANDRA", "cassandra://127.0.0.1:9042")),
        RedisSettings.from_url(env.get("LEGATO_REDIS", "redis://127.0.0.1:6379/0")),
    )


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port} (start it with `legato dev up`)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def cassandra_url(cassandra: CassandraSettings, keyspace: str) -> str:
    """A LEGATO_CASSANDRA URL for worker processes: the configured hosts, another keyspace."""
    auth = f"{cassandra.username}:{cassandra.password or ''}@" if cassandra.username else ""
    return f"cassandra://{auth}{','.join(cassandra.hosts)}:{cassandra.port}/{keyspace}"
