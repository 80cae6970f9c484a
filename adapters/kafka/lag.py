"""Consumer lag of Legato's consumer groups, as Kafka tooling reports it: per
partition, the high watermark minus the group's committed offset (the whole
partition when the group committed nothing yet). Read without joining the group."""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition

from legato.adapters.kafka.settings import KafkaSettings
from legato.runtime.errors import BackendUnavailableError


class GroupLag:
    """``await lag()``: ``{topic: {partition: messages not yet committed}}`` of the
    jobs topic (workers' group) and the commands topic (its ``.commands`` group)."""

    def __init__(self, settings: KafkaSettings, timeout: float = 5.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._groups = {
            settings.jobs_topic: settings.group,
            settings.commands_topic: settings.group + ".commands",
        }
        self._consumers: dict[str, Consumer] = {}
        self._lock = threading.Lock()

    def _consumer(self, group: str) -> Consumer:
        if group not in self._consumers:
            self._consumers[group] = Consumer(
                {
                    "log_level": 0,
                    **self.settings.client_config(),
                    "group.id": group,
                    "enable.auto.commit": False,
                }
            )
        return self._consumers[group]

    def _measure(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        with self._lock:
            for topic, group in self._groups.items():
                consumer = self._consumer(group)
                meta = consumer.list_topics(topic, timeout=self.timeout).topics.get(topic)
                if meta is None or meta.error is not None:
                    continue
                parts = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
                committed = consumer.committed(parts, timeout=self.timeout)
                lag = {}
                for tp in committed:
                    low, high = consumer.get_watermark_offsets(tp, timeout=self.timeout)
                    position = tp.offset if tp.offset >= 0 else low
                    lag[tp.partition] = max(0, high - position)
                out[topic] = lag
        return out

    async def __call__(self) -> dict[str, dict[int, int]]:
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self._measure)
        except KafkaException as exc:
            raise BackendUnavailableError(f"Kafka: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for consumer in self._consumers.values():
                consumer.close()
            self._consumers.clear()
