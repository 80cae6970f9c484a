"""Kafka connection settings: brokers, topics, partitions, consumer group, librdkafka options."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl, unquote

from legato.adapters.urls import redact, split_url, unknown_keys, url_hosts, url_int
from legato.runtime.errors import ConfigError


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka brokers, topic names, partition counts and librdkafka pass-through options.

    ``options`` go to every confluent-kafka client as they are (TLS, SASL, ...).
    The commands and dead-letter topics get a quarter of ``partitions`` (at least 1)
    unless their counts are given.

    Attributes:
        bootstrap: Brokers to connect to first, ``host:port`` separated by commas.
        jobs_topic: Topic of step jobs, keyed by run so that a run's jobs stay in order.
        commands_topic: Topic other services send commands to (start, signal, cancel).
        deadletter_topic: Topic of messages that cannot be decoded, with the reason
            in their headers.
        partitions: Partitions of the jobs topic (``legato topics apply``); bounds how
            many workers share the jobs.
        commands_partitions: Partitions of the commands topic; unset: a quarter of
            ``partitions`` (at least 1).
        deadletter_partitions: Partitions of the dead-letter topic; unset: a quarter
            of ``partitions`` (at least 1).
        replication_factor: Replicas of each topic that ``legato topics apply`` creates.
        group: Consumer group of the workers.
        options: librdkafka settings passed to every client as they are
            (``security.protocol``, ``sasl.*``, ``ssl.*``, ...).
    """

    bootstrap: str = "127.0.0.1:9092"
    jobs_topic: str = "legato.jobs"
    commands_topic: str = "legato.commands"
    deadletter_topic: str = "legato.deadletter"
    partitions: int = 12
    commands_partitions: int | None = None
    deadletter_partitions: int | None = None
    replication_factor: int = 1
    group: str = "legato-workers"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> KafkaSettings:
        """``kafka://[user:pass@]host:port[,host:port]?jobs_topic=...&security.protocol=SSL``.

        ``kafka+ssl://`` sets ``security.protocol=SSL``; credentials set SASL PLAIN
        (over SSL with ``kafka+ssl``). Query keys that are settings fields set them;
        any other key is passed to librdkafka.
        """
        parts = split_url(url, "Kafka")
        if parts.scheme not in ("kafka", "kafka+ssl"):
            raise ConfigError(f"Kafka URL must start with kafka://, got {redact(url)!r}")
        hosts = url_hosts(parts.netloc, 9092, "Kafka")
        kwargs: dict[str, Any] = {"bootstrap": ",".join(f"{h}:{p}" for h, p in hosts)}
        options: dict[str, Any] = {}
        if parts.scheme == "kafka+ssl":
            options["security.protocol"] = "SSL"
        if parts.username:
            options["security.protocol"] = (
                "SASL_SSL" if parts.scheme == "kafka+ssl" else "SASL_PLAINTEXT"
            )
            options["sasl.mechanism"] = "PLAIN"
            options["sasl.username"] = unquote(parts.username)
            options["sasl.password"] = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in _KAFKA_INTS:
                kwargs[key] = url_int(value, key, "Kafka")
            elif key in _KAFKA_FIELDS:
                kwargs[key] = value
            elif "." not in key and difflib.get_close_matches(key, _KAFKA_FIELDS, 1, 0.8):
                unknown_keys([key], _KAFKA_FIELDS, "Kafka URL")
            else:
                options[key] = value
        return cls(**kwargs, options=options)

    def client_config(self) -> dict[str, Any]:
        """Options for confluent-kafka clients."""
        return {"bootstrap.servers": self.bootstrap, **self.options}

    def topic_partitions(self) -> dict[str, int]:
        """Each topic's name and partition count."""
        derived = max(1, self.partitions // 4)
        return {
            self.jobs_topic: self.partitions,
            self.commands_topic: self.commands_partitions or derived,
            self.deadletter_topic: self.deadletter_partitions or derived,
        }


_KAFKA_FIELDS = [f.name for f in fields(KafkaSettings) if f.name not in ("bootstrap", "options")]
_KAFKA_INTS = [f.name for f in fields(KafkaSettings) if str(f.type).startswith("int")]
# URL query keys that set a field: {query key: field name}.
KAFKA_URL_KEYS = {name: name for name in _KAFKA_FIELDS}
