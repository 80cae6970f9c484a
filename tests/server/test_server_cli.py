"""`legato server`'s refusals: a non-loopback address without a token, bad options."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato.cli import main
from legato.config import ConfigError
from legato.server.serve import ServerOptions, check_binding, is_loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org"])
def test_a_public_address_without_a_token_is_refused(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEGATO_API_TOKEN", raising=False)

    async def serve(*args: object) -> int:  # reached only if the refusal failed
        return 99

    monkeypatch.setattr("legato.server.serve.serve", serve)
    assert main(["server", "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"refusing to serve {host} without a token" in err and "--insecure" in err
    assert "Traceback" not in err
    with pytest.raises(ConfigError):
        check_binding(ServerOptions(host=host))
    check_binding(ServerOptions(host=host, token="t"))  # a token, or
    check_binding(ServerOptions(host=host, insecure=True))  # said so


def test_loopback_needs_no_token() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host)
        check_binding(ServerOptions(host=host))
    assert not is_loopback("0.0.0.0")


def test_bad_options_and_blueprints_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["server", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
    assert main(["server", "--max-body", "10"]) == 2
    assert "--max-body" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nnodes: [{id: a, uses: 'no.such:f'}]\nedges: [{source: a, target: b}]\n")
    assert main(["server", "--blueprint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "invalid blueprint" in err and "Traceback" not in err
    assert main(["server", "--import", "no_such_module_here"]) == 2
