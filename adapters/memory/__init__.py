"""The embedded backend: every port in process, no servers."""

from legato.adapters.memory.coordination import (
    MemoryCoordinator,
    MemoryDelivery,
    MemoryJobBus,
    MemoryTimers,
)
from legato.adapters.memory.store import MemoryRunStore
from legato.runtime.clock import SYSTEM_CLOCK, Clock
from legato.runtime.ports import Backend


def memory_backend(clock: Clock = SYSTEM_CLOCK, *, retention: float | None = None) -> Backend:
    """A fresh in-process backend (store, coordinator, bus, timers) on ``clock``;
    ``retention``: seconds finished runs are kept (None: for ever)."""
    store = MemoryRunStore(retention=retention, clock=clock)
    bus = MemoryJobBus(clock)
    return Backend(
        store=store,
        blueprints=store,
        coordinator=MemoryCoordinator(clock=clock),
        bus=bus,
        timers=MemoryTimers(bus, clock),
        clock=clock,
    )


__all__ = [
    "MemoryCoordinator",
    "MemoryDelivery",
    "MemoryJobBus",
    "MemoryRunStore",
    "MemoryTimers",
    "memory_backend",
]
