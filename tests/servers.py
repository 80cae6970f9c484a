"""Finding the real servers for integration tests.

Addresses come from LEGATO_KAFKA / LEGATO_CASSANDRA / LEGATO_REDIS, or the
`legato dev up` defaults. A missing server skips the test on a laptop and
fails it under CI (the environment variable CI is set).
"""

from __future__ import annotations

import os
import shlex
import socket
import uuid

import pytest

from legato.config import CassandraSettings, KafkaSettings, RedisSettings, Settings
from legato.devserver import DevOptions

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


def dev_options() -> DevOptions:
    """The ``legato dev`` servers' options, as ``.ci/run`` and the developer set them
    (LEGATO_DEV_DIR, LEGATO_DEV_FLAGS): for tests that stop and restart a server."""
    from legato.cli.dev import _common_options, options

    flags = shlex.split(os.environ.get("LEGATO_DEV_FLAGS", ""))
    return options(_common_options().parse_args(flags))


def require_restartable(name: str, host: str, port: int) -> DevOptions:
    """The dev options if ``host:port`` is the running local dev server ``name``;
    otherwise skip (fail under CI): a test may only restart servers of its own."""
    from legato import devserver

    opts = dev_options()
    ours = getattr(opts, f"{name}_port")
    local = host in ("127.0.0.1", "localhost") and port == ours
    if local and devserver.status(opts)[name]["state"] == "running":
        return opts
    message = f"{name} at {host}:{port} is not a running `legato dev` server to restart"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
