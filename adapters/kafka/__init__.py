"""Kafka adapters: the job bus and topic administration."""

from legato.adapters.kafka.bus import KafkaDelivery, KafkaJobBus
from legato.adapters.kafka.topics import apply_topics

__all__ = ["KafkaDelivery", "KafkaJobBus", "apply_topics"]
