"""The Coordinator on Redis: join arrivals and leases as Lua scripts (atomic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis

from legato.adapters.redis import keys
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.ports import JoinDecision

T = TypeVar("T")
_DECISIONS = {b"run": JoinDecision.RUN, b"skip": JoinDecision.SKIP, b"wait": JoinDecision.WAIT}


def _script(name: str) -> str:
    return resources.files("legato.adapters.redis").joinpath(name).read_text("utf-8")


class RedisCoordinator:
    """Joins count distinct predecessors and decide once (``join.lua``); leases carry
    fencing tokens (``lease.lua``). Keys are prefixed and expire (``keys.py``)."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "legato:",
        ttl: int = keys.JOIN_TTL_SECONDS,
        fence_ttl: int = keys.FENCE_TTL_SECONDS,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.fence_ttl = fence_ttl
        self._join = client.register_script(_script("join.lua"))
        self._lease = client.register_script(_script("lease.lua"))

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "legato:",
        client_options: Mapping[str, Any] | None = None,
        **options: int,
    ) -> RedisCoordinator:
        """A coordinator with its own client; ``options`` are ``ttl``/``fence_ttl``,
        ``client_options`` go to ``Redis.from_url`` (TLS files, username, ...)."""
        kwargs = {"socket_timeout": 5, "socket_connect_timeout": 5, **(client_options or {})}
        return cls(Redis.from_url(url, **kwargs), prefix=prefix, **options)

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (
            redis_errors.ConnectionError,
            redis_errors.TimeoutError,
            redis_errors.BusyLoadingError,
            redis_errors.ReadOnlyError,  # a replica during failover
            redis_errors.TryAgainError,
            redis_errors.ClusterDownError,
        ) as exc:
            raise BackendUnavailableError(f"Redis: {exc}") from exc

    async def arrive(
        self, run_id: str, step_id: str, predecessor: str, taken: bool, expected: int, mode: str
    ) -> JoinDecision:
        ks = [keys.join(self.prefix, run_id, step_id), keys.run_keys(self.prefix, run_id)]
        args: list[str | int] = [predecessor, 1 if taken else 0, expected, mode, self.ttl]
        raw = await self._call(lambda: self._join(keys=ks, args=args))
        return _DECISIONS[raw if isinstance(raw, bytes) else str(raw).encode()]

    async def _lease_op(
        self, op: str, run_id: str, step_id: str, owner: str, token: int, ttl: float
    ) -> Any:
        ks = [
            keys.lease(self.prefix, run_id, step_id),
            keys.fence(self.prefix, run_id, step_id),
            keys.run_keys(self.prefix, run_id),
        ]
        args: list[str | int] = [op, owner, token, max(1, int(ttl * 1000)), self.fence_ttl]
        return await self._call(lambda: self._lease(keys=ks, args=args))

    async def acquire_lease(self, run_id: str, step_id: str, owner: str, ttl: float) -> int | None:
        token = await self._lease_op("acquire", run_id, step_id, owner, 0, ttl)
        return int(token) if token is not None else None

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        return bool(await self._lease_op("renew", run_id, step_id, "", token, ttl))

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None:
        await self._lease_op("release", run_id, step_id, "", token, 0)

    async def lease_held(self, run_id: str, step_id: str) -> bool:
        key = keys.lease(self.prefix, run_id, step_id)
        return bool(await self._call(lambda: self.client.exists(key)))

    async def forget_run(self, run_id: str) -> None:
        """Delete a finished run's join hashes and fencing counters (listed in its
        ``run_keys`` set; all in the run's hash slot). Leases expire on their own (a
        resolved step's is not even released)."""
        index = keys.run_keys(self.prefix, run_id)

        async def forget() -> None:
            members = await self.client.smembers(index)
            await self.client.delete(index, *members)

        await self._call(forget)

    async def close(self) -> None:
        await self.client.aclose()
