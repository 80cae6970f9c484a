"""Configuration from the command line and the environment.

The settings types live with their adapters (``legato.adapters.kafka.settings``,
...; ``legato.adapters.settings.Settings`` holds all three) and are re-exported
here. Environment variables are read only here, by the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace

from legato.adapters.cassandra.settings import CASSANDRA_URL_KEYS, CassandraSettings
from legato.adapters.kafka.settings import KAFKA_URL_KEYS, KafkaSettings
from legato.adapters.redis.settings import RedisSettings
from legato.adapters.settings import Settings
from legato.adapters.urls import redact
from legato.runtime.errors import ConfigError
from legato.runtime.limits import Limits

ENV_KAFKA = "LEGATO_KAFKA"
ENV_CASSANDRA = "LEGATO_CASSANDRA"
ENV_REDIS = "LEGATO_REDIS"
ENV_CONFIG = "LEGATO_CONFIG"
ENV_API_TOKEN = "LEGATO_API_TOKEN"

# What each variable holds (docs/configuration.md is generated from these).
ENVIRONMENT = {
    ENV_CONFIG: "Path of a TOML file with [kafka], [cassandra] and [redis] sections "
    "(what --config gives).",
    ENV_KAFKA: "Kafka URL; replaces the file's [kafka] section.",
    ENV_CASSANDRA: "Cassandra URL; replaces the file's [cassandra] section.",
    ENV_REDIS: "Redis URL; replaces the file's [redis] section.",
    ENV_API_TOKEN: "Bearer token that `legato server` requires on /api/ (as --token).",
}

#: Each field of ``Limits``: its variable and its command-line option (both
#: override the config file's ``[limits]`` table; the option wins).
LIMIT_VARIABLES = {f.name: f"LEGATO_LIMITS_{f.name.upper()}" for f in fields(Limits)}
LIMIT_OPTIONS = {f.name: f"--limit-{f.name.replace('_', '-')}" for f in fields(Limits)}
#: The limits a worker enforces (it reads no blueprint files).
RUN_LIMITS = ("input_bytes", "output_bytes")
#: The limits of reading a blueprint file (all `legato validate` needs).
DOCUMENT_LIMITS = ("document_bytes", "aliases", "depth")

__all__ = [
    "CASSANDRA_URL_KEYS",
    "DOCUMENT_LIMITS",
    "ENVIRONMENT",
    "ENV_API_TOKEN",
    "ENV_CASSANDRA",
    "ENV_CONFIG",
    "ENV_KAFKA",
    "ENV_REDIS",
    "KAFKA_URL_KEYS",
    "LIMIT_OPTIONS",
    "LIMIT_VARIABLES",
    "RUN_LIMITS",
    "CassandraSettings",
    "ConfigError",
    "KafkaSettings",
    "Limits",
    "RedisSettings",
    "Settings",
    "add_config_argument",
    "add_limit_arguments",
    "limits_from_cli",
    "redact",
    "settings_from_cli",
]


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Give a command the ``--config FILE`` option read by ``settings_from_cli``."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a legato.toml with [kafka], [cassandra], [redis] "
        f"(default: ${ENV_CONFIG}; URLs in ${ENV_KAFKA}, ${ENV_CASSANDRA}, "
        f"${ENV_REDIS} override it)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def add_limit_arguments(
    parser: argparse.ArgumentParser, names: Sequence[str] = tuple(LIMIT_OPTIONS)
) -> None:
    """Give a command a ``--limit-*`` option for each ``Limits`` field in ``names``
    (read by ``settings_from_cli``)."""
    for name in names:
        parser.add_argument(
            LIMIT_OPTIONS[name],
            dest=f"limit_{name}",
            type=_positive,
            metavar="N",
            help=f"Limits.{name} (default: ${LIMIT_VARIABLES[name]}, the config file's "
            f"[limits] {name}, else {getattr(Limits(), name)})",
        )


def limits_from_cli(base: Limits, args: argparse.Namespace, environ: Mapping[str, str]) -> Limits:
    """``base`` (the config file's) with the ``LEGATO_LIMITS_*`` variables, then the
    ``--limit-*`` options, applied over it."""
    changes: dict[str, int] = {}
    for name, variable in LIMIT_VARIABLES.items():
        text = environ.get(variable, "").strip()
        if text:
            try:
                changes[name] = _positive(text)
            except argparse.ArgumentTypeError as exc:
                raise ConfigError(f"{variable}: {exc}") from None
        given = getattr(args, f"limit_{name}", None)
        if given is not None:
            changes[name] = given
    return replace(base, **changes) if changes else base


def settings_from_cli(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings a command uses: ``--config``/``LEGATO_CONFIG``, then the URL
    variables; limits from the file's ``[limits]``, then ``LEGATO_LIMITS_*``, then
    the ``--limit-*`` options.

    Raises:
        ConfigError: the file, a URL or a limit is invalid (the message says which).
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
    merged = settings.merged(from_env)
    return replace(merged, limits=limits_from_cli(merged.limits, args, environ))
