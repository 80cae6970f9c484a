"""Adapter factories: each contract test runs once per implementation of its port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from legato.adapters.memory import MemoryCoordinator, MemoryRunStore


@pytest.fixture(params=["memory", "cassandra"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryRunStore()
        return
    request.applymarker(pytest.mark.integration)
    from legato.adapters.cassandra.store import CassandraRunStore

    session = request.getfixturevalue("cassandra_session")
    keyspace = request.getfixturevalue("cassandra_keyspace")
    yield await CassandraRunStore.open(session, keyspace)


@pytest.fixture(params=["memory", "redis"])
async def coordinator(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryCoordinator()
        return
    from legato.adapters.redis import RedisCoordinator
    from tests.servers import unique

    url = request.getfixturevalue("redis_url")
    coord = RedisCoordinator.from_url(url, prefix=unique("test") + ":")
    yield coord
    await coord.close()
