"""Connection settings for Kafka, Cassandra and Redis.

Settings are explicit, frozen objects built from URLs (``from_url``) or a TOML
file (``Settings.from_toml``). Environment variables are read only by the CLI
(``settings_from_cli``). Unknown keys are errors, never silently ignored.
Secrets never appear in ``repr`` or ``str``.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from legato.runtime.errors import LegatoError

ENV_KAFKA = "LEGATO_KAFKA"
ENV_CASSANDRA = "LEGATO_CASSANDRA"
ENV_REDIS = "LEGATO_REDIS"
ENV_CONFIG = "LEGATO_CONFIG"


class ConfigError(LegatoError):
    """Configuration that cannot be used: a bad URL, an unknown key, a wrong type."""


def _unknown(keys: Any, known: list[str], where: str) -> None:
    for key in keys:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{extra}")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _hosts(netloc: str, default_port: int, scheme: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        if not item:
            continue
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        try:
            hosts.append((host or item, int(port) if port else default_port))
        except ValueError:
            raise ConfigError(f"{scheme} URL: bad port in {item!r}") from None
    if not hosts:
        raise ConfigError(f"{scheme} URL: no host given")
    return tuple(hosts)


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka brokers, topic names and extra librdkafka options (TLS, SASL, ...)."""

    bootstrap: str = "127.0.0.1:9092"
    jobs_topic: str = "legato.jobs"
    commands_topic: str = "legato.commands"
    deadletter_topic: str = "legato.deadletter"
    partitions: int = 12
    replication_factor: int = 1
    group: str = "legato-workers"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> KafkaSettings:
        """``kafka://host:port[,host:port]?jobs_topic=...&security.protocol=SSL``."""
        parts = urlsplit(url)
        if parts.scheme not in ("kafka", "kafka+ssl"):
            raise ConfigError(f"Kafka URL must start with kafka://, got {redact(url)!r}")
        hosts = _hosts(parts.netloc, 9092, "Kafka")
        kwargs: dict[str, Any] = {"bootstrap": ",".join(f"{h}:{p}" for h, p in hosts)}
        options: dict[str, Any] = {}
        if parts.scheme == "kafka+ssl":
            options["security.protocol"] = "SSL"
        if parts.username:
            options.update(
                {
                    "sasl.username": unquote(parts.username),
                    "sasl.password": unquote(parts.password or ""),
                }
            )
        for key, value in parse_qsl(parts.query):
            if key in _KAFKA_FIELDS:
                kwargs[key] = int(value) if key in ("partitions", "replication_factor") else value
            else:
                options[key] = value
        return cls(**kwargs, options=options)

    def client_config(self) -> dict[str, Any]:
        """Options for confluent-kafka clients."""
        return {"bootstrap.servers": self.bootstrap, **self.options}


_KAFKA_FIELDS = [f.name for f in fields(KafkaSettings) if f.name not in ("bootstrap", "options")]


@dataclass(frozen=True)
class CassandraSettings:
    """Cassandra contact points, keyspace, consistency, credentials and TLS."""

    hosts: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    keyspace: str = "legato"
    consistency: str = "LOCAL_QUORUM"
    local_dc: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    replication: str = "simple:1"
    tls: bool = False
    tls_ca_file: str | None = None

    @classmethod
    def from_url(cls, url: str) -> CassandraSettings:
        """``cassandra://user:pass@h1,h2:9042/keyspace?consistency=QUORUM&dc=dc1&tls=true``."""
        parts = urlsplit(url)
        if parts.scheme != "cassandra":
            raise ConfigError(f"Cassandra URL must start with cassandra://, got {redact(url)!r}")
        hosts = _hosts(parts.netloc, 0, "Cassandra")
        ports = {p for _, p in hosts if p}
        if len(ports) > 1:
            raise ConfigError("Cassandra URL: all hosts must use the same port")
        kwargs: dict[str, Any] = {
            "hosts": tuple(h for h, _ in hosts),
            "port": ports.pop() if ports else 9042,
        }
        if parts.path.strip("/"):
            kwargs["keyspace"] = parts.path.strip("/")
        if parts.username:
            kwargs["username"] = unquote(parts.username)
            kwargs["password"] = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query):
            name = {"dc": "local_dc", "ca": "tls_ca_file"}.get(key, key)
            _unknown(
                [name],
                ["consistency", "local_dc", "replication", "tls", "tls_ca_file"],
                "Cassandra URL",
            )
            kwargs[name] = value.lower() in ("1", "true", "yes") if name == "tls" else value
        return cls(**kwargs)


@dataclass(frozen=True)
class RedisSettings:
    """A Redis URL (``redis://`` or ``rediss://`` for TLS) and the key prefix."""

    url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    prefix: str = "legato:"

    @classmethod
    def from_url(cls, url: str) -> RedisSettings:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"Redis URL must start with redis:// or rediss://, got {redact(url)!r}"
            )
        return cls(url=url)

    def __repr__(self) -> str:
        return f"RedisSettings(url={redact(self.url)!r}, prefix={self.prefix!r})"


@dataclass(frozen=True)
class Settings:
    """Everything needed to run distributed. Embedded when any part is missing."""

    kafka: KafkaSettings | None = None
    cassandra: CassandraSettings | None = None
    redis: RedisSettings | None = None

    @property
    def distributed(self) -> bool:
        return None not in (self.kafka, self.cassandra, self.redis)

    @property
    def partial(self) -> bool:
        """Some but not all servers configured: almost surely a mistake."""
        return not self.distributed and (self.kafka or self.cassandra or self.redis) is not None

    @classmethod
    def from_urls(
        cls, kafka: str | None = None, cassandra: str | None = None, redis: str | None = None
    ) -> Settings:
        return cls(
            KafkaSettings.from_url(kafka) if kafka else None,
            CassandraSettings.from_url(cassandra) if cassandra else None,
            RedisSettings.from_url(redis) if redis else None,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Read ``[kafka]``, ``[cassandra]`` and ``[redis]`` sections (each may give a
        ``url`` plus any field of its settings class; ``[kafka.options]`` passes
        librdkafka options through)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
        _unknown(data, ["kafka", "cassandra", "redis"], str(p))
        return cls(
            _section(data.get("kafka"), KafkaSettings, f"{p} [kafka]"),
            _section(data.get("cassandra"), CassandraSettings, f"{p} [cassandra]"),
            _section(data.get("redis"), RedisSettings, f"{p} [redis]"),
        )

    def merged(self, other: Settings) -> Settings:
        """``other``'s parts where given, else this one's."""
        return Settings(
            other.kafka or self.kafka, other.cassandra or self.cassandra, other.redis or self.redis
        )


def _section(raw: Any, cls: Any, where: str) -> Any:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    known = [f.name for f in fields(cls)]
    _unknown(raw, ["url", *known], where)
    base = cls.from_url(raw["url"]) if "url" in raw else cls()
    rest = {k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items() if k != "url"}
    for f in fields(cls):
        if f.name in rest and f.type in ("int", int) and not isinstance(rest[f.name], int):
            raise ConfigError(f"{where}: {f.name} must be an integer")
    try:
        return replace(base, **rest)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a legato.toml with [kafka], [cassandra], [redis] "
        f"(default: ${ENV_CONFIG}; URLs in ${ENV_KAFKA}, ${ENV_CASSANDRA}, "
        f"${ENV_REDIS} override it)",
    )


def settings_from_cli(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings a command uses: ``--config``/``LEGATO_CONFIG``, then the URL variables."""
    settings = Settings()
    path = getattr(args, "config", None) or environ.get(ENV_CONFIG)
    if path:
        settings = Settings.from_toml(path)
    from_env = Settings.from_urls(
        environ.get(ENV_KAFKA), environ.get(ENV_CASSANDRA), environ.get(ENV_REDIS)
    )
    return settings.merged(from_env)
