"""The Coordinator on Redis: join arrivals and leases as Lua scripts (atomic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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

    def __init__(self, client: Redis, *, prefix: str = "legato:") -> None:
        self.client = client
        self.prefix = prefix
        self._join = client.register_script(_script("join.lua"))
        self._lease = client.register_script(_script("lease.lua"))

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "legato:") -> RedisCoordinator:
        return cls(Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), prefix=prefix)

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await fn()
        except (
            redis_errors.ConnectionError,
            redis_errors.TimeoutError,
            redis_errors.BusyLoadingError,
        ) as exc:
            raise BackendUnavailableError(f"Redis: {exc}") from exc

    async def arrive(
        self, run_id: str, step_id: str, predecessor: str, taken: bool, expected: int, mode: str
    ) -> JoinDecision:
        key = keys.join(self.prefix, run_id, step_id)
        args = [predecessor, 1 if taken else 0, expected, mode, keys.JOIN_TTL_SECONDS]
        raw = await self._call(lambda: self._join(keys=[key], args=args))
        return _DECISIONS[raw if isinstance(raw, bytes) else str(raw).encode()]

    async def _lease_op(
        self, op: str, run_id: str, step_id: str, owner: str, token: int, ttl: float
    ) -> Any:
        ks = [keys.lease(self.prefix, run_id, step_id), keys.fence(self.prefix, run_id, step_id)]
        args = [op, owner, token, max(1, int(ttl * 1000)), keys.FENCE_TTL_SECONDS]
        return await self._call(lambda: self._lease(keys=ks, args=args))

    async def acquire_lease(self, run_id: str, step_id: str, owner: str, ttl: float) -> int | None:
        token = await self._lease_op("acquire", run_id, step_id, owner, 0, ttl)
        return int(token) if token is not None else None

    async def renew_lease(self, run_id: str, step_id: str, token: int, ttl: float) -> bool:
        return bool(await self._lease_op("renew", run_id, step_id, "", token, ttl))

    async def release_lease(self, run_id: str, step_id: str, token: int) -> None:
        await self._lease_op("release", run_id, step_id, "", token, 0)

    async def forget_run(self, run_id: str) -> None:
        """Nothing to do: a finished run's keys expire (``keys.JOIN_TTL_SECONDS``)."""

    async def close(self) -> None:
        await self.client.aclose()
