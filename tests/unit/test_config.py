"""Settings from URLs and TOML: typos are errors, secrets never printed."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from legato.config import (
    CassandraSettings,
    ConfigError,
    KafkaSettings,
    RedisSettings,
    Settings,
    redact,
    settings_from_cli,
)


def test_urls() -> None:
    k = KafkaSettings.from_url("kafka://b1:9093,b2?jobs_topic=j&security.protocol=SSL")
    assert k.bootstrap == "b1:9093,b2:9092"
    assert k.jobs_topic == "j"
    assert k.client_config() == {"bootstrap.servers": "b1:9093,b2:9092", "security.protocol": "SSL"}
    c = CassandraSettings.from_url(
        "cassandra://ann:s3cret@h1,h2:9142/prod?consistency=QUORUM&dc=eu"
    )
    assert (c.hosts, c.port, c.keyspace, c.consistency, c.local_dc) == (
        ("h1", "h2"),
        9142,
        "prod",
        "QUORUM",
        "eu",
    )
    assert (c.username, c.password) == ("ann", "s3cret")
    assert RedisSettings.from_url("rediss://:pw@r:6380/2").url == "rediss://:pw@r:6380/2"


@pytest.mark.parametrize(
    ("factory", "url", "message"),
    [
        (KafkaSettings.from_url, "http://x", "Kafka URL must start with kafka://"),
        (KafkaSettings.from_url, "kafka://h:port", "bad port in 'h:port'"),
        (
            CassandraSettings.from_url,
            "cassandra://h?consistensy=ONE",
            "unknown key 'consistensy' (did you mean 'consistency'?)",
        ),
        (
            RedisSettings.from_url,
            "memcached://h",
            "Redis URL must start with redis:// or rediss://",
        ),
    ],
)
def test_bad_urls(factory: object, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        factory(url)  # type: ignore[operator]


def test_secrets_are_redacted() -> None:
    c = CassandraSettings.from_url("cassandra://ann:s3cret@h/ks")
    r = RedisSettings.from_url("redis://:hunter2@r:6379/0")
    k = KafkaSettings.from_url("kafka://u:pw@h:9092")
    text = f"{c!r} {c} {r!r} {r} {k!r} {Settings(k, c, r)!r}"
    assert "s3cret" not in text and "hunter2" not in text and "pw" not in text
    assert redact("redis://:hunter2@r:6379/0") == "redis://:***@r:6379/0"


def test_toml(tmp_path: Path) -> None:
    path = tmp_path / "legato.toml"
    path.write_text(
        '[kafka]\nurl = "kafka://k:9092"\npartitions = 6\n[kafka.options]\n"sasl.mechanism" = '
        '"PLAIN"\n[cassandra]\nhosts = ["c1", "c2"]\nkeyspace = "wf"\n'
        '[redis]\nurl = "redis://r:6379/1"\n'
    )
    s = Settings.from_toml(path)
    assert s.distributed
    assert s.kafka is not None and s.kafka.partitions == 6
    assert s.kafka.client_config()["sasl.mechanism"] == "PLAIN"
    assert s.cassandra is not None and s.cassandra.hosts == ("c1", "c2")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[kafak]\n", "unknown key 'kafka'|unknown key 'kafak' (did you mean 'kafka'?)"),
        (
            "[cassandra]\nkeyspce = 'x'\n",
            "[cassandra]: unknown key 'keyspce' (did you mean 'keyspace'?)",
        ),
        ("[kafka]\npartitions = 'many'\n", "[kafka]: partitions must be an integer"),
        ("[kafka\n", "not valid TOML"),
    ],
)
def test_bad_toml(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "legato.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        Settings.from_toml(path)
    assert any(m in str(err.value) for m in message.split("|")), str(err.value)
    assert str(path) in str(err.value)


def test_cli_reads_environment_over_file(tmp_path: Path) -> None:
    path = tmp_path / "legato.toml"
    path.write_text('[kafka]\nurl = "kafka://file:9092"\n[redis]\nurl = "redis://file:6379"\n')
    args = argparse.Namespace(config=str(path))
    s = settings_from_cli(args, {"LEGATO_KAFKA": "kafka://env:9092"})
    assert s.kafka is not None and s.kafka.bootstrap == "env:9092"
    assert s.redis is not None and s.redis.url == "redis://file:6379"
    assert s.partial and not s.distributed
    assert settings_from_cli(argparse.Namespace(config=None), {}) == Settings()
