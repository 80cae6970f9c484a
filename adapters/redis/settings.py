"""Redis connection settings: URL, key prefix, redis-py options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from legato.adapters.urls import redact, split_url
from legato.runtime.errors import ConfigError


@dataclass(frozen=True)
class RedisSettings:
    """A Redis URL (``redis://`` or ``rediss://`` for TLS), the key prefix, and options
    passed to redis-py's ``from_url`` as they are (``ssl_ca_certs``, ``username``, ...).

    Attributes:
        url: ``redis://[:password@]host:port/db``, ``rediss://`` for TLS; the password
            is never printed.
        prefix: Prefix of every key Legato writes (join state, leases, fencing
            counters), so that deployments can share a database.
        options: Keyword arguments of redis-py's ``from_url``, as they are.
    """

    url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    prefix: str = "legato:"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> RedisSettings:
        """``redis://[:password@]host:port/db`` or ``rediss://`` (TLS)."""
        if split_url(url, "Redis").scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"Redis URL must start with redis:// or rediss://, got {redact(url)!r}"
            )
        return cls(url=url)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.Redis.from_url(url, **kwargs)``."""
        return dict(self.options)

    def __repr__(self) -> str:
        return f"RedisSettings(url={redact(self.url)!r}, prefix={self.prefix!r})"
