"""Cassandra adapters: the run history (RunStore, BlueprintStore) and durable timers."""

from legato.adapters.cassandra.session import connect

__all__ = ["connect"]
