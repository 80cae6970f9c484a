"""Configuration from the command line and the environment.

The settings types live with their adapters (``legato.adapters.kafka.settings``,
...; ``legato.adapters.settings.Settings`` holds all three) and are re-exported
here. Environment variables are read only here, by the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from legato.adapters.cassandra.settings import CASSANDRA_URL_KEYS, CassandraSettings
from legato.adapters.kafka.settings import KAFKA_URL_KEYS, KafkaSettings
from legato.adapters.redis.settings import RedisSettings
from legato.adapters.settings import Settings
from legato.adapters.urls import redact
from legato.runtime.errors import ConfigError

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

__all__ = [
    "CASSANDRA_URL_KEYS",
    "ENVIRONMENT",
    "ENV_API_TOKEN",
    "ENV_CASSANDRA",
    "ENV_CONFIG",
    "ENV_KAFKA",
    "ENV_REDIS",
    "KAFKA_URL_KEYS",
    "CassandraSettings",
    "ConfigError",
    "KafkaSettings",
    "RedisSettings",
    "Settings",
    "add_config_argument",
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
