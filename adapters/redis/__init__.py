"""Redis adapters: the Coordinator (joins, leases)."""

from legato.adapters.redis.coordinator import RedisCoordinator

__all__ = ["RedisCoordinator"]
