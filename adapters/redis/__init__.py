"""Redis adapters: the Coordinator (joins, leases), loaded on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["RedisCoordinator"]


def __getattr__(name: str) -> Any:
    if name == "RedisCoordinator":
        from legato.adapters.redis.coordinator import RedisCoordinator

        return RedisCoordinator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
