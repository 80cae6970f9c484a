"""The embedded backend: every port in process, no servers."""

from legato.adapters.memory.coordination import (
    MemoryCoordinator,
    MemoryDelivery,
    MemoryJobBus,
    MemoryTimers,
)
from legato.adapters.memory.store import MemoryRunStore
from legato.runtime.engine import Backend


def memory_backend() -> Backend:
    """A fresh in-process backend (store, coordinator, bus, timers)."""
    fences: dict[tuple[str, str], int] = {}
    store = MemoryRunStore(fences=fences)
    bus = MemoryJobBus()
    return Backend(
        store=store,
        blueprints=store,
        coordinator=MemoryCoordinator(fences=fences),
        bus=bus,
        timers=MemoryTimers(bus),
    )


__all__ = [
    "MemoryCoordinator",
    "MemoryDelivery",
    "MemoryJobBus",
    "MemoryRunStore",
    "MemoryTimers",
    "memory_backend",
]
