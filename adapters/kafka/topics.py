"""Creating Legato's topics (idempotent)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from legato.config import KafkaSettings
from legato.runtime.errors import BackendUnavailableError


def apply_topics(settings: KafkaSettings, timeout: float = 30.0) -> dict[str, str]:
    """Create the jobs, commands and dead-letter topics; existing ones are left as they are."""
    admin = AdminClient(settings.client_config())
    names = [settings.jobs_topic, settings.commands_topic, settings.deadletter_topic]
    topics = [
        NewTopic(
            n,
            num_partitions=settings.partitions
            if n == settings.jobs_topic
            else max(1, settings.partitions // 4),
            replication_factor=settings.replication_factor,
        )
        for n in names
    ]
    result: dict[str, str] = {}
    for name, future in admin.create_topics(topics, request_timeout=timeout).items():
        try:
            future.result(timeout)
            result[name] = "created"
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                result[name] = "exists"
            elif err.retriable() or err.code() == KafkaError._TRANSPORT:
                raise BackendUnavailableError(f"Kafka at {settings.bootstrap}: {err}") from exc
            else:
                raise
    return result
