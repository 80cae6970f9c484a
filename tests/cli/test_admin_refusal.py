"""`schema apply` and `topics apply` refuse to guess a server: a configuration, or --dev."""

from __future__ import annotations

import pytest

from legato.cli import main


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LEGATO_KAFKA", "LEGATO_CASSANDRA", "LEGATO_REDIS", "LEGATO_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("args", "variable"),
    [(["schema", "apply"], "LEGATO_CASSANDRA"), (["topics", "apply"], "LEGATO_KAFKA")],
)
@pytest.mark.usefixtures("unconfigured")
def test_refuses_without_configuration(
    args: list[str], variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"nothing configured: set {variable} or pass --config FILE, or --dev" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("unconfigured")
def test_dev_passes_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --dev the command goes on (to its own argument checks, here), without
    connecting anywhere."""
    assert main(["topics", "apply", "--dev", "--partitions", "0"]) == 2
    assert "--partitions must be at least 1" in capsys.readouterr().err
    assert main(["schema", "apply", "--dev", "--replication", "bogus"]) == 2
    assert "nothing configured" not in capsys.readouterr().err


def test_a_configuration_is_enough(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEGATO_KAFKA", "kafka://127.0.0.1:1")
    assert main(["topics", "apply", "--partitions", "0"]) == 2
    assert "--partitions must be at least 1" in capsys.readouterr().err
