"""The contract suites of ``legato.testing.contract`` on the embedded adapters, and
the join rule's shortcut for a single predecessor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from legato.adapters.memory import MemoryCoordinator, MemoryJobBus, MemoryRunStore, MemoryTimers
from legato.runtime import joins
from legato.testing.contract import (
    CoordinatorContract,
    JobBusContract,
    RunStoreContract,
    TimerHarness,
    TimersContract,
)


class TestMemoryRunStore(RunStoreContract):
    @pytest.fixture
    def store(self) -> MemoryRunStore:
        return MemoryRunStore()


class TestMemoryCoordinator(CoordinatorContract):
    @pytest.fixture
    def coordinator(self) -> MemoryCoordinator:
        return MemoryCoordinator()

    @pytest.fixture
    def lose_data(self, coordinator: MemoryCoordinator) -> Callable[[], object]:
        async def lose() -> None:
            coordinator.lose_data()

        return lose


class TestMemoryJobBus(JobBusContract):
    @pytest.fixture
    def make_bus(self) -> Callable[[], MemoryJobBus]:
        shared = MemoryJobBus()
        return lambda: shared


class TestMemoryTimers(TimersContract):
    @pytest.fixture
    async def timers(self) -> AsyncIterator[TimerHarness]:
        bus = MemoryJobBus()
        memory = MemoryTimers(bus)
        yield TimerHarness(memory, bus)
        await memory.close()


@pytest.mark.parametrize("mode", ["all", "any"])
@pytest.mark.parametrize("taken", [True, False])
def test_a_single_predecessor_decides_as_the_join_rule(mode: joins.JoinMode, taken: bool) -> None:
    state = joins.JoinState()
    first = joins.arrive(state, "p", taken, 1, mode)
    again = joins.arrive(state, "p", taken, 1, mode)
    assert joins.alone(taken) == first == again
