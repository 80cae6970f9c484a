"""The Coordinator on Redis: join arrivals and leases as Lua scripts (atomic)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any, TypeVar

import msgspec
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from legato.adapters.redis import keys
from legato.adapters.redis.settings import RedisSettings
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.joins import CountDecision, JoinDecision, JoinMode
from legato.runtime.ports import LeaseGrant
from legato.schemas import WorkerInfo

T = TypeVar("T")
_DECISIONS = {"run": JoinDecision.RUN, "skip": JoinDecision.SKIP, "wait": JoinDecision.WAIT}
_worker_decoder = msgspec.json.Decoder(WorkerInfo)


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

    @classmethod
    def from_settings(cls, settings: RedisSettings) -> RedisCoordinator:
        """A coordinator with its own client, from ``RedisSettings``."""
        return cls.from_url(
            settings.url, prefix=settings.prefix, client_options=settings.client_kwargs()
        )

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
        except redis_errors.ResponseError as exc:
            # The server refused a command it would take later (OOM, MASTERDOWN, a
            # script killed by BUSY...): our scripts and commands are valid, so this
            # is the server's state, not a reason to fail a run.
            raise BackendUnavailableError(f"Redis refused a command: {exc}") from exc

    async def arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: JoinMode,
    ) -> JoinDecision:
        decision, _ = await self._arrive(run_id, step_id, predecessor, taken, expected, mode, 0)
        return decision

    async def arrive_count(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        count: int,
    ) -> CountDecision:
        decision, joined = await self._arrive(
            run_id, step_id, predecessor, taken, expected, "count", count
        )
        return CountDecision(decision, tuple(joined.split("\n")) if joined else ())

    async def _arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: JoinMode,
        count: int,
    ) -> tuple[JoinDecision, str]:
        ks = [keys.join(self.prefix, run_id, step_id), keys.run_keys(self.prefix, run_id)]
        args: list[str | int] = [predecessor, 1 if taken else 0, expected, mode, self.ttl, count]
        raw = await self._call(lambda: self._join(keys=ks, args=args))
        decision, joined = (_text(part) for part in raw)
        return _DECISIONS[decision], joined

    async def _lease_op(
        self,
        op: str,
        run_id: str,
        step_id: str,
        owner: str,
        token: int,
        ttl: float,
        unclaimed: bool = False,
    ) -> Any:
        ks = [
            keys.lease(self.prefix, run_id, step_id),
            keys.fence(self.prefix, run_id, step_id),
            keys.run_keys(self.prefix, run_id),
            keys.born(self.prefix),
        ]
        ms = max(1, int(ttl * 1000))
        args: list[str | int] = [op, owner, token, ms, self.fence_ttl, 1 if unclaimed else 0]
        return await self._call(lambda: self._lease(keys=ks, args=args))

    async def acquire_lease(
        self, run_id: str, step_id: str, owner: str, ttl: float, *, unclaimed: bool = False
    ) -> LeaseGrant:
        token, held_ms, grace = await self._lease_op(
            "acquire", run_id, step_id, owner, 0, ttl, unclaimed
        )
        if int(token):
            return LeaseGrant(int(token))
        return LeaseGrant(None, max(0, int(held_ms)) / 1000, bool(int(grace)))

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

    async def epoch(self) -> tuple[str, bool]:
        key = keys.epoch(self.prefix)

        async def read() -> tuple[str, bool]:
            found = await self.client.get(key)
            if found is not None:
                return _text(found), False
            new = uuid.uuid4().hex
            if await self.client.set(key, new, nx=True):
                return new, True
            again = await self.client.get(key)
            return (_text(again) if again is not None else new), False

        return await self._call(read)

    async def heartbeat_worker(self, worker: WorkerInfo, ttl: float) -> None:
        index, key = keys.workers(self.prefix), keys.worker(self.prefix, worker.worker_id)

        async def beat() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(key, msgspec.json.encode(worker), px=max(1, int(ttl * 1000)))
                pipe.sadd(index, worker.worker_id)
                pipe.expire(index, keys.WORKERS_TTL_SECONDS)
                await pipe.execute()

        await self._call(beat)

    async def drop_worker(self, worker_id: str) -> None:
        index, key = keys.workers(self.prefix), keys.worker(self.prefix, worker_id)

        async def drop() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.srem(index, worker_id)
                await pipe.execute()

        await self._call(drop)

    async def live_workers(self) -> list[WorkerInfo]:
        index = keys.workers(self.prefix)

        async def read() -> list[WorkerInfo]:
            ids = sorted(_text(m) for m in await self.client.smembers(index))
            if not ids:
                return []
            found = await self.client.mget([keys.worker(self.prefix, w) for w in ids])
            gone = [w for w, raw in zip(ids, found, strict=True) if raw is None]
            if gone:
                await self.client.srem(index, *gone)
            return [_worker_decoder.decode(raw) for raw in found if raw is not None]

        return await self._call(read)

    async def probe(self, timeout: float = 2.0) -> str | None:
        try:
            await asyncio.wait_for(self.client.ping(), timeout)
        except Exception as exc:  # any failure means not reachable; say which and why
            return f"Redis: {type(exc).__name__}: {exc}"
        return None

    async def close(self) -> None:
        await self.client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
