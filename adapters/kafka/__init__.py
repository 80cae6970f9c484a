"""Kafka adapters: the job bus and topic administration."""

from legato.adapters.kafka.topics import apply_topics

__all__ = ["apply_topics"]
