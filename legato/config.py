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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from legato.runtime.errors import LegatoError

ENV_KAFKA = "LEGATO_KAFKA"
ENV_CASSANDRA = "LEGATO_CASSANDRA"
ENV_REDIS = "LEGATO_REDIS"
ENV_CONFIG = "LEGATO_CONFIG"

# What each variable holds (docs/configuration.md is generated from these).
ENVIRONMENT = {
    ENV_CONFIG: "Path of a TOML file with [kafka], [cassandra] and [redis] sections "
    "(what --config gives).",
    ENV_KAFKA: "Kafka URL; replaces the file's [kafka] section.",
    ENV_CASSANDRA: "Cassandra URL; replaces the file's [cassandra] section.",
    ENV_REDIS: "Redis URL; replaces the file's [redis] section.",
}


class ConfigError(LegatoError):
    """Configuration that cannot be used: a bad URL, an unknown key, a wrong type."""


def _unknown(keys: Iterable[Any], known: list[str], where: str) -> None:
    for key in keys:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{extra}")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _split(url: str, what: str) -> Any:
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018 - parsing the user info may fail too
    except ValueError as exc:
        raise ConfigError(f"{what} URL {redact(url)!r}: {exc}") from None
    return parts


def _hosts(netloc: str, default_port: int, what: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, ""
        if not port.isdigit() and port:
            raise ConfigError(f"{what} URL: bad port in {item!r}")
        hosts.append((host, int(port) if port else default_port))
    if not hosts or not all(h for h, _ in hosts):
        raise ConfigError(f"{what} URL: no host given")
    return tuple(hosts)


def _int(value: str, key: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{what} URL: {key} must be an integer >= 1, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka brokers, topic names, partition counts and librdkafka pass-through options.

    ``options`` go to every confluent-kafka client as they are (TLS, SASL, ...).
    The commands and dead-letter topics get a quarter of ``partitions`` (at least 1)
    unless their counts are given.

    Attributes:
        bootstrap: Brokers to connect to first, ``host:port`` separated by commas.
        jobs_topic: Topic of step jobs, keyed by run so that a run's jobs stay in order.
        commands_topic: Topic other services send commands to (start, signal, cancel).
        deadletter_topic: Topic of messages that cannot be decoded, with the reason
            in their headers.
        partitions: Partitions of the jobs topic (``legato topics apply``); bounds how
            many workers share the jobs.
        commands_partitions: Partitions of the commands topic; unset: a quarter of
            ``partitions`` (at least 1).
        deadletter_partitions: Partitions of the dead-letter topic; unset: a quarter
            of ``partitions`` (at least 1).
        replication_factor: Replicas of each topic that ``legato topics apply`` creates.
        group: Consumer group of the workers.
        options: librdkafka settings passed to every client as they are
            (``security.protocol``, ``sasl.*``, ``ssl.*``, ...).
    """

    bootstrap: str = "127.0.0.1:9092"
    jobs_topic: str = "legato.jobs"
    commands_topic: str = "legato.commands"
    deadletter_topic: str = "legato.deadletter"
    partitions: int = 12
    commands_partitions: int | None = None
    deadletter_partitions: int | None = None
    replication_factor: int = 1
    group: str = "legato-workers"
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> KafkaSettings:
        """``kafka://[user:pass@]host:port[,host:port]?jobs_topic=...&security.protocol=SSL``.

        ``kafka+ssl://`` sets ``security.protocol=SSL``; credentials set SASL PLAIN
        (over SSL with ``kafka+ssl``). Query keys that are settings fields set them;
        any other key is passed to librdkafka.
        """
        parts = _split(url, "Kafka")
        if parts.scheme not in ("kafka", "kafka+ssl"):
            raise ConfigError(f"Kafka URL must start with kafka://, got {redact(url)!r}")
        hosts = _hosts(parts.netloc, 9092, "Kafka")
        kwargs: dict[str, Any] = {"bootstrap": ",".join(f"{h}:{p}" for h, p in hosts)}
        options: dict[str, Any] = {}
        if parts.scheme == "kafka+ssl":
            options["security.protocol"] = "SSL"
        if parts.username:
            options["security.protocol"] = (
                "SASL_SSL" if parts.scheme == "kafka+ssl" else "SASL_PLAINTEXT"
            )
            options["sasl.mechanism"] = "PLAIN"
            options["sasl.username"] = unquote(parts.username)
            options["sasl.password"] = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in _KAFKA_INTS:
                kwargs[key] = _int(value, key, "Kafka")
            elif key in _KAFKA_FIELDS:
                kwargs[key] = value
            elif "." not in key and difflib.get_close_matches(key, _KAFKA_FIELDS, 1, 0.8):
                _unknown([key], _KAFKA_FIELDS, "Kafka URL")
            else:
                options[key] = value
        return cls(**kwargs, options=options)

    def client_config(self) -> dict[str, Any]:
        """Options for confluent-kafka clients."""
        return {"bootstrap.servers": self.bootstrap, **self.options}

    def topic_partitions(self) -> dict[str, int]:
        """Each topic's name and partition count."""
        derived = max(1, self.partitions // 4)
        return {
            self.jobs_topic: self.partitions,
            self.commands_topic: self.commands_partitions or derived,
            self.deadletter_topic: self.deadletter_partitions or derived,
        }


_KAFKA_FIELDS = [f.name for f in fields(KafkaSettings) if f.name not in ("bootstrap", "options")]
_KAFKA_INTS = [f.name for f in fields(KafkaSettings) if str(f.type).startswith("int")]
# URL query keys that set a field: {query key: field name}.
KAFKA_URL_KEYS = {name: name for name in _KAFKA_FIELDS}


@dataclass(frozen=True)
class CassandraSettings:
    """Cassandra contact points, keyspace, consistency, credentials and TLS.

    ``options`` are passed to cassandra-driver's ``Cluster`` as keyword arguments
    (e.g. ``compression``, ``idle_heartbeat_interval``).

    Attributes:
        hosts: Contact points; the driver discovers the rest of the cluster.
        port: Native protocol port of every host.
        keyspace: Keyspace of the run history, timers and blueprints.
        consistency: Consistency level of reads and writes (``LOCAL_QUORUM``,
            ``QUORUM``, ``ONE``, ...).
        local_dc: Local data center of DC-aware load balancing; unset: the data center
            of the first contact point that answers.
        username: User for password authentication; unset: none.
        password: Password of ``username``; never printed.
        replication: Replication of the keyspace when ``legato schema apply`` creates
            it: ``simple:N`` or ``nts:dc1=3,dc2=3``.
        tls: Connect with TLS.
        tls_ca_file: CA certificate file that verifies the servers; implies TLS in a URL.
        options: Keyword arguments of cassandra-driver's ``Cluster``, as they are.
    """

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
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> CassandraSettings:
        """``cassandra://user:pass@h1,h2:9042/keyspace?consistency=QUORUM&dc=dc1&tls=true``.

        Query keys: ``consistency``, ``dc`` (local data center), ``replication``,
        ``tls`` and ``ca`` (a CA file; implies ``tls``).
        """
        parts = _split(url, "Cassandra")
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
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            _unknown([key], list(CASSANDRA_URL_KEYS), "Cassandra URL")
            if key == "tls":
                kwargs["tls"] = _bool(value, "Cassandra URL: tls")
            elif key == "ca":
                kwargs.update(tls=True, tls_ca_file=value)
            else:
                kwargs[CASSANDRA_URL_KEYS[key]] = value
        return cls(**kwargs)


# URL query keys that set a field: {query key: field name}.
CASSANDRA_URL_KEYS = {
    "consistency": "consistency",
    "dc": "local_dc",
    "replication": "replication",
    "tls": "tls",
    "ca": "tls_ca_file",
}


def _bool(value: str, where: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where} must be true or false, got {value!r}")


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
        if _split(url, "Redis").scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"Redis URL must start with redis:// or rediss://, got {redact(url)!r}"
            )
        return cls(url=url)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.Redis.from_url(url, **kwargs)``."""
        return dict(self.options)

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
        """Read ``[kafka]``, ``[cassandra]`` and ``[redis]`` sections.

        Each may give a ``url`` plus any field of its settings class; its
        ``options`` table is passed to the client as it is.

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
    types = {f.name: str(f.type) for f in fields(cls)}
    _unknown(raw, ["url", *types], where)
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


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Give a command the ``--config FILE`` option read by ``settings_from_cli``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a legato.toml with [kafka], [cassandra], [redis] "
        f"(default: ${ENV_CONFIG}; URLs in ${ENV_KAFKA}, ${ENV_CASSANDRA}, "
        f"${ENV_REDIS} override it)",
    )


def settings_from_cli(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings a command uses: ``--config``/``LEGATO_CONFIG``, then the URL variables.

    Raises:
        ConfigError: the file or a URL is invalid (the message says which).
    """
    settings = Settings()
    path = getattr(args, "config", None) or environ.get(ENV_CONFIG)
    if path:
        settings = Settings.from_toml(path)
    try:
        from_env = Settings.from_urls(
            environ.get(ENV_KAFKA), environ.get(ENV_CASSANDRA), environ.get(ENV_REDIS)
        )
    except ConfigError as exc:
        raise ConfigError(f"environment ({ENV_KAFKA}/{ENV_CASSANDRA}/{ENV_REDIS}): {exc}") from None
    return settings.merged(from_env)
