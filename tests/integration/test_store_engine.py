"""The engine on the real history and coordination (Cassandra RunStore, Redis
Coordinator; jobs and timers in memory) gives the same results as embedded."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import legato
from legato.adapters.memory import MemoryJobBus, MemoryTimers, memory_backend
from legato.runtime.engine import Backend

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = [
    ("etl.yaml", None),  # fan-out, fan-in, a retry through a timer, a context write
    ("branch.yaml", {"amount": 50}),  # actions: one branch skipped, an `any` join
    ("branch.yaml", {"amount": 250}),
    ("condition.yaml", {"name": "annabelle", "pass_mark": 40}),
    ("loop.yaml", {"upto": 4}),  # a chain with a back edge
    ("quorum.yaml", None),  # a count join: 2 of 3
    ("quorum.yaml", {"down": ["r1", "r2"]}),  # a count join that cannot be met: skipped
    ("foreach.yaml", None),  # a step per item, 2 at a time, items kept in Cassandra
    ("foreach.yaml", {"images": []}),  # [] at once
]


@pytest.fixture(scope="module", autouse=True)
def example_nodes() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


@pytest.fixture
async def real_backend(
    cassandra_session: Any, cassandra_keyspace: str, redis_url: str, unique_name: Any
) -> AsyncIterator[Backend]:
    from legato.adapters.cassandra.store import CassandraRunStore
    from legato.adapters.redis import RedisCoordinator

    store = await CassandraRunStore.open(cassandra_session, cassandra_keyspace)
    coordinator = RedisCoordinator.from_url(redis_url, prefix=unique_name("eng") + ":")
    bus = MemoryJobBus()
    yield Backend(store, store, coordinator, bus, MemoryTimers(bus))
    await coordinator.close()


@pytest.mark.parametrize(("example", "value"), CASES)
async def test_examples_match_embedded(real_backend: Backend, example: str, value: Any) -> None:
    reg = legato.compile(str(EXAMPLES / example))
    async with legato.Engine(memory_backend()) as embedded:
        expected = await embedded.run(reg, value, timeout=30)
    async with legato.Engine(real_backend) as engine:
        got = await engine.run(reg, value, timeout=30)
        history = await real_backend.store.history(got.run_id)
    assert expected.status == "completed", expected.error
    assert (got.status, got.outputs, got.context) == (
        expected.status,
        expected.outputs,
        expected.context,
    )
    completions = [e.step_id for e in history if type(e).__name__ == "StepCompleted"]
    assert len(completions) == len(set(completions))  # every step recorded once
