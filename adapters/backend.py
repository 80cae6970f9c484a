"""Opening a backend from settings: the one place connections are made and owned."""

from __future__ import annotations

from legato.adapters.settings import Settings
from legato.runtime.errors import ConfigError
from legato.runtime.ports import Backend


async def open_backend(settings: Settings | None = None, *, group: str | None = None) -> Backend:
    """The distributed backend of ``settings`` (Kafka jobs, Cassandra history and
    timers, Redis coordination), or the embedded one when nothing is configured.
    ``backend.close()`` closes every connection it opened.

    Raises:
        BackendUnavailableError: a server does not answer.
        ConfigError: only some of the three servers are configured.
    """
    if settings is None or not (settings.kafka or settings.cassandra or settings.redis):
        from legato.adapters.memory import memory_backend

        return memory_backend()
    if not settings.distributed:
        raise ConfigError("distributed mode needs Kafka, Cassandra and Redis settings")
    assert settings.kafka and settings.cassandra and settings.redis
    from legato.adapters.cassandra.session import CassandraConnection
    from legato.adapters.cassandra.store import CassandraRunStore
    from legato.adapters.cassandra.timers import CassandraTimers
    from legato.adapters.kafka.bus import KafkaJobBus
    from legato.adapters.redis.coordinator import RedisCoordinator

    connection = await CassandraConnection.open(settings.cassandra)
    try:
        keyspace = settings.cassandra.keyspace
        days = settings.cassandra.retention_days
        retention = days * 86400.0 if days is not None else None
        store = await CassandraRunStore.open(connection.session, keyspace, retention=retention)
        timers = await CassandraTimers.open(connection.session, keyspace)
    except BaseException:
        await connection.close()
        raise
    coordinator = RedisCoordinator.from_settings(settings.redis)
    bus = KafkaJobBus(settings.kafka, group=group)
    return Backend(store, store, coordinator, bus, timers, resources=(connection,))
