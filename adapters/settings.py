"""The settings of the distributed backend: Kafka, Cassandra and Redis, from URLs or TOML.

Settings are explicit, frozen objects built from URLs (``from_url``) or a TOML
file (``Settings.from_toml``). Environment variables are read only by the CLI
(``legato.config.settings_from_cli``). Unknown keys are errors, never silently
ignored. Secrets never appear in ``repr`` or ``str``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from legato.adapters.cassandra.settings import CassandraSettings
from legato.adapters.kafka.settings import KafkaSettings
from legato.adapters.redis.settings import RedisSettings
from legato.adapters.urls import unknown_keys
from legato.runtime.errors import ConfigError
from legato.runtime.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class Settings:
    """Everything needed to run distributed (embedded when any server is missing),
    and the size limits that apply either way."""

    kafka: KafkaSettings | None = None
    cassandra: CassandraSettings | None = None
    redis: RedisSettings | None = None
    limits: Limits = DEFAULT_LIMITS

    @property
    def distributed(self) -> bool:
        """All three servers are configured."""
        return None not in (self.kafka, self.cassandra, self.redis)

    @property
    def partial(self) -> bool:
        """Some but not all servers configured: almost surely a mistake."""
        return not self.distributed and (self.kafka or self.cassandra or self.redis) is not None

    @classmethod
    def from_urls(
        cls, kafka: str | None = None, cassandra: str | None = None, redis: str | None = None
    ) -> Settings:
        """Settings from the given URLs; a missing URL leaves that part unset."""
        return cls(
            KafkaSettings.from_url(kafka) if kafka else None,
            CassandraSettings.from_url(cassandra) if cassandra else None,
            RedisSettings.from_url(redis) if redis else None,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Read ``[kafka]``, ``[cassandra]``, ``[redis]`` and ``[limits]`` sections.

        Each server section may give a ``url`` plus any field of its settings
        class; its ``options`` table is passed to the client as it is.
        ``[limits]`` sets fields of ``Limits`` (positive integers).

        Raises:
            ConfigError: the file is unreadable or not TOML, or has an unknown key
                or a value of the wrong type (the message names the file and key).
        """
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
        unknown_keys(data, ["kafka", "cassandra", "redis", "limits"], str(p))
        return cls(
            _section(data.get("kafka"), KafkaSettings, f"{p} [kafka]"),
            _section(data.get("cassandra"), CassandraSettings, f"{p} [cassandra]"),
            _section(data.get("redis"), RedisSettings, f"{p} [redis]"),
            _limits(data.get("limits"), f"{p} [limits]"),
        )

    def merged(self, other: Settings) -> Settings:
        """``other``'s parts where given, else this one's (limits: ``other``'s unless
        they are the defaults)."""
        return Settings(
            other.kafka or self.kafka,
            other.cassandra or self.cassandra,
            other.redis or self.redis,
            self.limits if other.limits == DEFAULT_LIMITS else other.limits,
        )


def _limits(raw: Any, where: str) -> Limits:
    if raw is None:
        return DEFAULT_LIMITS
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown_keys(raw, [f.name for f in fields(Limits)], where)
    return replace(DEFAULT_LIMITS, **{k: _typed(v, "int", f"{where}: {k}") for k, v in raw.items()})


def _section(raw: Any, cls: Any, where: str) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    types = {f.name: str(f.type) for f in fields(cls)}
    unknown_keys(raw, ["url", *types], where)
    if "url" in raw and not isinstance(raw["url"], str):
        raise ConfigError(f"{where}: url must be a string")
    try:
        base = cls.from_url(raw["url"]) if "url" in raw else cls()
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    values = {k: _typed(v, types[k], f"{where}: {k}") for k, v in raw.items() if k != "url"}
    if isinstance(values.get("options"), dict):
        # Options from the URL stay unless the file's table overrides them.
        values["options"] = {**base.options, **values["options"]}
    return replace(base, **values)


def _typed(value: Any, kind: str, where: str) -> Any:
    kind = kind.removesuffix(" | None")
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{where} must be at least 1, got {value}")
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind.startswith("tuple") and isinstance(value, list):
        if value and all(isinstance(v, str) and v for v in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a non-empty list of strings")
    if kind.startswith("Mapping") and isinstance(value, dict):
        return value
    expected = {
        "int": "an integer",
        "bool": "true or false",
        "str": "a string",
    }.get(kind, "a table" if kind.startswith("Mapping") else "a list of strings")
    raise ConfigError(f"{where} must be {expected}, got {type(value).__name__} {value!r}")
