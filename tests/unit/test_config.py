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


def test_kafka_url_credentials_set_sasl_and_field_typos_are_caught() -> None:
    k = KafkaSettings.from_url("kafka+ssl://ann:p%40ss@b1:9093?partitions=6&acks=all")
    assert k.partitions == 6
    assert k.client_config() == {
        "bootstrap.servers": "b1:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "ann",
        "sasl.password": "p@ss",
        "acks": "all",
    }
    with pytest.raises(ConfigError, match=re.escape("unknown key 'jobs_topik' (did you mean")):
        KafkaSettings.from_url("kafka://h?jobs_topik=x")
    with pytest.raises(ConfigError, match=re.escape("partitions must be an integer >= 1")):
        KafkaSettings.from_url("kafka://h?partitions=0")


def test_topic_partitions_default_and_explicit() -> None:
    assert KafkaSettings(partitions=12).topic_partitions() == {
        "legato.jobs": 12,
        "legato.commands": 3,
        "legato.deadletter": 3,
    }
    explicit = KafkaSettings(partitions=2, commands_partitions=5, deadletter_partitions=1)
    assert list(explicit.topic_partitions().values()) == [2, 5, 1]


def test_cassandra_url_tls_options() -> None:
    c = CassandraSettings.from_url("cassandra://h?ca=/etc/ca.pem")
    assert (c.tls, c.tls_ca_file) == (True, "/etc/ca.pem")
    with pytest.raises(ConfigError, match="tls must be true or false, got 'maybe'"):
        CassandraSettings.from_url("cassandra://h?tls=maybe")
    with pytest.raises(ConfigError, match="all hosts must use the same port"):
        CassandraSettings.from_url("cassandra://a:1,b:2")


def test_toml_options_pass_through_and_stay_secret(tmp_path: Path) -> None:
    path = tmp_path / "legato.toml"
    path.write_text(
        '[kafka]\nurl = "kafka://u:kpw@k:9092"\ncommands_partitions = 2\n'
        '[kafka.options]\n"ssl.ca.location" = "/ca.pem"\n'
        '[cassandra]\nusername = "ann"\npassword = "cpw"\ntls = true\n'
        "[cassandra.options]\nidle_heartbeat_interval = 10\n"
        '[redis]\nurl = "rediss://:rpw@r:6380/0"\n'
        '[redis.options]\nssl_ca_certs = "/ca.pem"\n'
    )
    s = Settings.from_toml(path)
    assert s.kafka is not None and s.cassandra is not None and s.redis is not None
    assert s.kafka.client_config()["sasl.password"] == "kpw"  # URL options kept
    assert s.kafka.client_config()["ssl.ca.location"] == "/ca.pem"
    assert s.kafka.topic_partitions()["legato.commands"] == 2
    assert s.cassandra.options == {"idle_heartbeat_interval": 10}
    assert (s.cassandra.username, s.cassandra.password, s.cassandra.tls) == ("ann", "cpw", True)
    assert s.redis.client_kwargs() == {"ssl_ca_certs": "/ca.pem"}
    shown = f"{s!r} {s}"
    assert not any(secret in shown for secret in ("kpw", "cpw", "rpw"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[cassandra]\nhosts = "c1"\n', "[cassandra]: hosts must be a list of strings, got str"),
        ("[cassandra]\nport = 0\n", "[cassandra]: port must be at least 1, got 0"),
        ('[cassandra]\ntls = "yes"\n', "[cassandra]: tls must be true or false, got str 'yes'"),
        ("[redis]\nprefix = 3\n", "[redis]: prefix must be a string, got int 3"),
        ('[redis]\noptions = "x"\n', "[redis]: options must be a table"),
        ("[redis]\nurl = 1\n", "[redis]: url must be a string"),
        ('[redis]\nurl = "http://r"\n', "[redis]: Redis URL must start with redis://"),
        ("[kafka]\npartitions = true\n", "[kafka]: partitions must be an integer"),
        ('[kafka]\nreplication = "x"\n', "unknown key 'replication' (did you mean"),
        ("kafka = 1\n", "[kafka]: expected a table"),
    ],
)
def test_toml_types_are_checked(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "legato.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        Settings.from_toml(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nope.toml'}: cannot read")):
        Settings.from_toml(tmp_path / "nope.toml")


def test_bad_environment_url_names_the_variables() -> None:
    args = argparse.Namespace(config=None)
    with pytest.raises(ConfigError, match=r"environment .*LEGATO_REDIS.*Redis URL must start"):
        settings_from_cli(args, {"LEGATO_REDIS": "http://x"})
    env = {"LEGATO_CONFIG": "/nonexistent/legato.toml"}
    with pytest.raises(ConfigError, match=re.escape("/nonexistent/legato.toml: cannot read")):
        settings_from_cli(args, env)
