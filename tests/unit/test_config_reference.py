"""docs/configuration.md is generated from the settings classes and cannot drift."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from legato import config
from legato.cli import main
from legato.config_reference import COMMAND, SECTIONS, URL_KEYS, URL_PARTS, attribute_docs, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_committed_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), f"stale: run `{COMMAND}`"


def test_cli_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == render()


@pytest.mark.parametrize("cls", [cls for _, cls, _ in SECTIONS])
def test_every_field_has_a_meaning(cls: type) -> None:
    docs = attribute_docs(cls)
    assert set(docs) == {f.name for f in fields(cls)}
    assert all(len(text) > 10 for text in docs.values()), docs


@pytest.mark.parametrize("cls", [cls for _, cls, _ in SECTIONS])
def test_url_parts_name_real_fields(cls: type) -> None:
    names = {f.name for f in fields(cls)}
    assert set(URL_PARTS[cls]) <= names
    assert set(URL_KEYS[cls].values()) <= names
    assert not set(URL_PARTS[cls]) & set(URL_KEYS[cls].values())


def _example(kind: str) -> tuple[str, object]:
    if kind.startswith("int"):
        return "7", 7
    if kind == "bool":
        return "true", True
    return "x1", "x1"


@pytest.mark.parametrize(
    ("cls", "base"),
    [(config.KafkaSettings, "kafka://h:9092"), (config.CassandraSettings, "cassandra://h")],
)
def test_documented_query_keys_set_their_fields(cls: type, base: str) -> None:
    kinds = {f.name: str(f.type) for f in fields(cls)}
    for key, name in URL_KEYS[cls].items():
        text, value = _example(kinds[name])
        settings = cls.from_url(f"{base}?{key}={text}")
        assert getattr(settings, name) == value, key


def test_every_variable_the_cli_reads_is_documented() -> None:
    names = [v for k, v in vars(config).items() if k.startswith("ENV_")]
    assert sorted(config.ENVIRONMENT) == sorted(names)


def test_every_variable_in_the_code_is_in_the_reference() -> None:
    root = DOC.parents[1]
    names = set()
    for folder in ("legato", "runtime", "adapters", "reconciler"):
        for path in (root / folder).rglob("*.py"):
            names.update(re.findall(r"\bLEGATO_[A-Z_]+\b", path.read_text(encoding="utf-8")))
    text = render()
    assert names and not {n for n in names if n not in text}


def test_rendered_rows() -> None:
    text = render()
    assert '| `jobs_topic` | `?jobs_topic=` | `"legato.jobs"` |' in text
    assert "| `local_dc` | `?dc=` | unset |" in text
    assert "| `--drain-timeout` | `30.0` |" in text
