"""Creating Legato's topics (idempotent)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from legato.adapters.kafka.settings import KafkaSettings
from legato.runtime.errors import BackendUnavailableError, ConfigError


def apply_topics(settings: KafkaSettings, timeout: float = 30.0) -> dict[str, str]:
    """Create the jobs, commands and dead-letter topics; existing ones are left as they are.

    Returns:
        Each topic's name and ``"created"`` or ``"exists"``.

    Raises:
        BackendUnavailableError: Kafka did not answer.
        ConfigError: Kafka refused a topic (e.g. a replication factor above the brokers').
    """
    # librdkafka would print every failed connection attempt; the error raised says why.
    admin = AdminClient({"log_level": 0, **settings.client_config()})
    topics = [
        NewTopic(name, num_partitions=count, replication_factor=settings.replication_factor)
        for name, count in settings.topic_partitions().items()
    ]
    result: dict[str, str] = {}
    for name, future in admin.create_topics(topics, request_timeout=timeout).items():
        try:
            future.result(timeout)
            result[name] = "created"
        except TimeoutError as exc:
            raise BackendUnavailableError(
                f"Kafka at {settings.bootstrap} did not answer within {timeout:.0f}s"
            ) from exc
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                result[name] = "exists"
            elif err.retriable() or err.code() == KafkaError._TRANSPORT:
                raise BackendUnavailableError(f"Kafka at {settings.bootstrap}: {err}") from exc
            else:
                raise ConfigError(f"Kafka refused to create topic {name!r}: {err.str()}") from exc
    return result
