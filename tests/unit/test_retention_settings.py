"""The retention setting: from a URL and a TOML file, and its bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.config import CassandraSettings, Settings
from legato.runtime.errors import ConfigError


def test_retention_defaults_to_keeping_runs_for_ever() -> None:
    assert CassandraSettings().retention_days is None
    assert CassandraSettings.from_url("cassandra://h/ks").retention_days is None


def test_retention_from_a_url_and_a_file(tmp_path: Path) -> None:
    assert CassandraSettings.from_url("cassandra://h/ks?retention_days=30").retention_days == 30
    toml = tmp_path / "legato.toml"
    toml.write_text('[cassandra]\nurl = "cassandra://h/ks"\nretention_days = 7\n')
    settings = Settings.from_toml(toml)
    assert settings.cassandra is not None and settings.cassandra.retention_days == 7


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "x", "7301"])
def test_a_retention_it_cannot_use_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="retention_days"):
        CassandraSettings.from_url(f"cassandra://h/ks?retention_days={value}")


def test_a_retention_beyond_cassandras_longest_ttl_is_refused_in_a_file(tmp_path: Path) -> None:
    toml = tmp_path / "legato.toml"
    toml.write_text("[cassandra]\nretention_days = 8000\n")
    with pytest.raises(ConfigError, match="retention_days"):
        Settings.from_toml(toml)
