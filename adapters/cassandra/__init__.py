"""Cassandra adapters: the run history (RunStore, BlueprintStore) and durable timers
(loaded on first use, so that importing the settings does not load the driver)."""

from __future__ import annotations

from typing import Any

__all__ = ["connect"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        from legato.adapters.cassandra.session import connect

        return connect
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
