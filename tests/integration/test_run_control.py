"""Signal queues (and run control) on the real history and coordination (Cassandra
RunStore, Redis Coordinator; jobs and timers in memory): the same as embedded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import legato
from legato.adapters.memory import MemoryJobBus, MemoryTimers, memory_backend
from legato.runtime.engine import Backend
from legato.schemas import SignalReceived, StepCompleted
from tests.unit.test_signal_queue import rework_loop

pytestmark = pytest.mark.integration


@pytest.fixture
async def real_backend(
    cassandra_session: Any, cassandra_keyspace: str, redis_url: str, unique_name: Any
) -> AsyncIterator[Backend]:
    from legato.adapters.cassandra.store import CassandraRunStore
    from legato.adapters.redis import RedisCoordinator

    store = await CassandraRunStore.open(cassandra_session, cassandra_keyspace)
    coordinator = RedisCoordinator.from_url(redis_url, prefix=unique_name("ctl") + ":")
    bus = MemoryJobBus()
    yield Backend(store, store, coordinator, bus, MemoryTimers(bus))
    await coordinator.close()


async def _rework(backend: Backend) -> tuple[legato.RunResult, list[Any]]:
    async with legato.Engine(backend) as engine:
        rid = await engine.start(rework_loop(), None)
        for verdict in (False, False, True):  # sent before any wait
            assert await engine.signal(rid, "approval", {"ok": verdict})
        assert await engine.signal(rid, "approval", {"ok": True}, dedupe="x")
        assert not await engine.signal(rid, "approval", {"ok": True}, dedupe="x")
        engine.start_workers()
        result = await engine.wait(rid, timeout=30)
        return result, await engine.history(rid)


async def test_signal_queue_matches_embedded(real_backend: Backend) -> None:
    expected, _ = await _rework(memory_backend())
    got, history = await _rework(real_backend)
    assert expected.status == "completed"
    assert (got.status, got.outputs) == (expected.status, expected.outputs)
    ids = [e.id for e in history if isinstance(e, SignalReceived)]
    consumed = {
        e.signal_id: e.step_id
        for e in history
        if isinstance(e, StepCompleted) and e.signal_id is not None
    }
    assert consumed == {ids[0]: "review#0", ids[1]: "review#1", ids[2]: "review#2"}
    assert await real_backend.store.next_signal(got.run_id, "approval") == (ids[3], {"ok": True})
