"""Adapter factories: each contract test runs once per implementation of its port.

Real implementations take the server fixtures of ``tests/conftest.py`` and are
marked ``integration`` (skipped without the servers locally, failing under CI).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from legato.adapters.memory import MemoryCoordinator, MemoryJobBus, MemoryRunStore, MemoryTimers
from legato.schemas import Job


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
    request.applymarker(pytest.mark.integration)
    from legato.adapters.redis import RedisCoordinator
    from tests.servers import unique

    url = request.getfixturevalue("redis_url")
    coord = RedisCoordinator.from_url(url, prefix=unique("test") + ":")
    yield coord
    await coord.close()


class TimerHarness:
    """Drives one ``Timers`` implementation: ``fired(now)`` returns the jobs it has
    published by unix time ``now`` (the memory timers run on the event loop's clock,
    so the harness waits until ``now``; the Cassandra ones are polled at ``now``)."""

    def __init__(self, timers: Any, bus: MemoryJobBus, polled: bool) -> None:
        self.timers = timers
        self.bus = bus
        self.polled = polled

    async def fired(self, now: float) -> list[Job]:
        if self.polled:
            await self.timers.fire_due(self.bus, now)
        else:
            await asyncio.sleep(max(0.0, now - time.time()) + 0.02)
        jobs = []
        while self.bus.pending():
            item = self.bus._queue.get_nowait()
            assert item is not None
            jobs.append(item if isinstance(item, Job) else item.job)
        return jobs


@pytest.fixture(params=["memory", "cassandra"])
async def timers(request: pytest.FixtureRequest) -> AsyncIterator[TimerHarness]:
    bus = MemoryJobBus()
    if request.param == "memory":
        mem = MemoryTimers(bus)
        yield TimerHarness(mem, bus, polled=False)
        mem.cancel_all()
        return
    request.applymarker(pytest.mark.integration)
    from legato.adapters.cassandra.timers import CassandraTimers

    session = request.getfixturevalue("cassandra_session")
    keyspace = request.getfixturevalue("cassandra_keyspace")
    yield TimerHarness(await CassandraTimers.open(session, keyspace), bus, polled=True)
