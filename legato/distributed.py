"""The distributed backend: Kafka jobs, Cassandra history and timers, Redis coordination."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from legato.config import ConfigError, Settings
from legato.runtime.engine import Backend


@dataclass
class Distributed:
    """A connected backend and what must be closed with it."""

    backend: Backend
    cluster: Any

    async def probe(self, timeout: float = 2.0) -> dict[str, str]:
        """Check each server now; returns ``{server: problem}`` (empty when all answer)."""
        loop = asyncio.get_running_loop()
        bus: Any = self.backend.bus
        coordinator: Any = self.backend.coordinator
        problems: dict[str, str] = {}

        def kafka() -> None:
            bus._producer.list_topics(topic=bus.topic, timeout=timeout)

        checks: dict[str, Any] = {
            "kafka": loop.run_in_executor(None, kafka),
            "redis": asyncio.wait_for(coordinator.client.ping(), timeout),
        }
        for server, check in checks.items():
            try:
                await check
            except Exception as exc:  # any failure means not ready; say which and why
                problems[server] = f"{type(exc).__name__}: {exc}"
        if not any(h.is_up for h in self.cluster.metadata.all_hosts()):
            problems["cassandra"] = "no Cassandra host is up"
        return problems

    async def close(self) -> None:
        await self.backend.bus.close()
        await self.backend.coordinator.close()  # type: ignore[attr-defined]
        await asyncio.get_running_loop().run_in_executor(None, self.cluster.shutdown)


async def connect(settings: Settings, *, group: str | None = None) -> Distributed:
    """Connect to the three servers of ``settings``; raises ``BackendUnavailableError``."""
    from legato.adapters.cassandra import connect as cassandra_connect
    from legato.adapters.cassandra.store import CassandraRunStore
    from legato.adapters.cassandra.timers import CassandraTimers
    from legato.adapters.kafka import KafkaJobBus
    from legato.adapters.redis import RedisCoordinator

    if not settings.distributed:
        raise ConfigError("distributed mode needs Kafka, Cassandra and Redis settings")
    assert settings.kafka and settings.cassandra and settings.redis
    loop = asyncio.get_running_loop()
    cluster, session = await loop.run_in_executor(None, cassandra_connect, settings.cassandra)
    keyspace = settings.cassandra.keyspace
    store = await CassandraRunStore.open(session, keyspace)
    timers = await CassandraTimers.open(session, keyspace)
    bus = KafkaJobBus(settings.kafka, group=group)
    coordinator = RedisCoordinator.from_url(
        settings.redis.url,
        prefix=settings.redis.prefix,
        client_options=settings.redis.client_kwargs(),
    )
    return Distributed(Backend(store, store, coordinator, bus, timers), cluster)
