"""Kafka adapters: the job bus and topic administration (loaded on first use, so that
importing the settings does not load the Kafka client)."""

from __future__ import annotations

from typing import Any

__all__ = ["KafkaDelivery", "KafkaJobBus", "apply_topics"]


def __getattr__(name: str) -> Any:
    if name in ("KafkaDelivery", "KafkaJobBus"):
        from legato.adapters.kafka import bus

        return getattr(bus, name)
    if name == "apply_topics":
        from legato.adapters.kafka.topics import apply_topics

        return apply_topics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
