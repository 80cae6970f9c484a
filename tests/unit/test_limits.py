"""Run input and step output limits: clear typed errors, nothing started, no retries;
every limit a setting (config file, LEGATO_LIMITS_* variables, --limit-* options)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import msgspec
import pytest

import legato
from legato.cli import main
from legato.config import (
    ConfigError,
    Settings,
    add_config_argument,
    add_limit_arguments,
    settings_from_cli,
)
from legato.runtime.errors import RunNotFoundError
from legato.schemas import StepFailed

ONCE = legato.Retry(max_attempts=3, initial_delay=0.0, jitter=0.0)


def counting_flow(calls: list[int], output: object = "ok") -> legato.Flow:
    async def step(ctx: legato.StepContext) -> object:
        calls.append(ctx.attempt)
        return output

    return legato.Flow("limited").node("a", step, retry=ONCE)


async def test_an_oversized_input_is_refused_and_starts_nothing() -> None:
    calls: list[int] = []
    reg = legato.compile(counting_flow(calls))
    async with legato.Engine(limits=legato.Limits(input_bytes=100)) as engine:
        engine.start_workers()
        with pytest.raises(legato.InputTooLargeError, match=r"input is 202 bytes, over .* 100"):
            await engine.start(reg, "x" * 200, run_id="big")
        with pytest.raises(RunNotFoundError):
            await engine.status("big")
        small = await engine.start(reg, "x" * 50)
        assert (await engine.wait(small, timeout=10)).status == "completed"
    assert calls == [1]  # only the small run's step ran


async def test_the_default_input_limit_is_one_mebibyte() -> None:
    reg = legato.compile(counting_flow([]))
    async with legato.Engine() as engine:
        with pytest.raises(legato.InputTooLargeError, match="over the limit of 1048576 bytes"):
            await engine.start(reg, "x" * (1 << 20))
        await engine.start(reg, "x" * ((1 << 20) - 16))


async def test_an_input_that_cannot_be_stored_is_a_clear_error() -> None:
    async with legato.Engine() as engine:
        with pytest.raises(legato.RunInputError, match="cannot be stored"):
            await engine.start(legato.compile(counting_flow([])), object())


@pytest.mark.parametrize("where", ["output", "context"])
async def test_an_oversized_output_or_context_write_fails_the_step_once(where: str) -> None:
    calls: list[int] = []

    async def step(ctx: legato.StepContext) -> str:
        calls.append(ctx.attempt)
        if where == "context":
            ctx.context.set("blob", "y" * 300)
            return "small"
        return "y" * 300

    flow = legato.Flow("out").node("a", step, retry=ONCE)
    async with legato.Engine(limits=legato.Limits(output_bytes=256)) as engine:
        result = await engine.run(legato.compile(flow), timeout=10)
        history = await engine.history(result.run_id)
    what = "output" if where == "output" else "context value 'blob'"
    assert result.status == "failed"
    assert f"{what} is 303 bytes, over the limit of 256 bytes" in (result.error or "")
    assert calls == [1]  # not retried, though three attempts were allowed
    [failed] = [e for e in history if isinstance(e, StepFailed)]
    assert (failed.error_type, failed.retry_at) == ("OutputTooLargeError", None)


def test_limits_must_be_positive_integers() -> None:
    with pytest.raises(ValueError, match="input_bytes"):
        legato.Limits(input_bytes=0)


def parsed(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_config_argument(parser)
    add_limit_arguments(parser)
    return parser.parse_args(argv)


def test_file_then_variable_then_option(tmp_path: Path) -> None:
    toml = tmp_path / "legato.toml"
    toml.write_text("[limits]\ninput_bytes = 1000\noutput_bytes = 2000\ndepth = 7\n")
    assert Settings.from_toml(toml).limits == legato.Limits(
        input_bytes=1000, output_bytes=2000, depth=7
    )
    env = {"LEGATO_CONFIG": str(toml), "LEGATO_LIMITS_OUTPUT_BYTES": "3000"}
    limits = settings_from_cli(parsed([]), env).limits
    assert (limits.input_bytes, limits.output_bytes, limits.depth) == (1000, 3000, 7)
    limits = settings_from_cli(parsed(["--limit-output-bytes", "4000"]), env).limits
    assert (limits.input_bytes, limits.output_bytes) == (1000, 4000)
    assert settings_from_cli(parsed([]), {}).limits == legato.Limits()


def test_bad_limit_settings_are_config_errors(tmp_path: Path) -> None:
    toml = tmp_path / "legato.toml"
    toml.write_text("[limits]\ninput_byte = 1000\n")
    with pytest.raises(ConfigError, match=r"\[limits\]: unknown key 'input_byte' \(did you mean"):
        Settings.from_toml(toml)
    toml.write_text('[limits]\ninput_bytes = "big"\n')
    with pytest.raises(ConfigError, match="input_bytes must be an integer"):
        Settings.from_toml(toml)
    toml.write_text("[limits]\ndepth = 0\n")
    with pytest.raises(ConfigError, match="depth must be at least 1"):
        Settings.from_toml(toml)
    with pytest.raises(ConfigError, match="LEGATO_LIMITS_INPUT_BYTES: expected a positive"):
        settings_from_cli(parsed([]), {"LEGATO_LIMITS_INPUT_BYTES": "-5"})


@pytest.fixture
def blueprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("LEGATO_KAFKA", "LEGATO_CASSANDRA", "LEGATO_REDIS", "LEGATO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "limited_steps.py").write_text(
        "async def echo(ctx):\n    return ctx.input\n"
        "async def store(ctx):\n    ctx.context.set('k', ctx.input)\n    return 1\n"
    )
    path = tmp_path / "bp.yaml"
    path.write_text(
        "id: lim\nnodes:\n  - {id: a, uses: 'limited_steps:echo'}\n"
        "  - {id: b, uses: 'limited_steps:store'}\nedges:\n  - {source: a, target: b}\n"
    )
    monkeypatch.chdir(tmp_path)
    return str(path)


def test_run_refuses_an_oversized_input_with_exit_2(
    blueprint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["run", blueprint, "--input", json.dumps("x" * 40), "--limit-input-bytes", "32"]) == 2
    )
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert "legato run: the run input is 42 bytes, over the limit of 32 bytes" in err


def test_run_honours_the_output_limit_of_the_environment(
    blueprint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGATO_LIMITS_OUTPUT_BYTES", "64")
    assert main(["run", blueprint, "--input", json.dumps("x" * 100)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "failed"
    size = len(msgspec.msgpack.encode("x" * 100))
    assert f"step a failed: output is {size} bytes, over the limit of 64" in out["error"]
    monkeypatch.setenv("LEGATO_LIMITS_OUTPUT_BYTES", "1000")
    assert main(["run", blueprint, "--input", json.dumps("x" * 100)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"


def test_run_honours_the_document_limit_of_the_config_file(
    blueprint: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "legato.toml").write_text("[limits]\ndocument_bytes = 20\n")
    assert main(["run", blueprint, "--config", str(tmp_path / "legato.toml")]) == 2
    assert "larger than 20 bytes" in capsys.readouterr().err


def test_worker_refuses_a_bad_limit_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--limit-output-bytes", "0"]) == 2
    assert "--limit-output-bytes: expected a positive integer" in capsys.readouterr().err


def test_validate_honours_the_document_limits(
    blueprint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["validate", blueprint]) == 0
    assert main(["validate", blueprint, "--limit-document-bytes", "20"]) == 2
    assert "larger than 20 bytes" in capsys.readouterr().err
    monkeypatch.setenv("LEGATO_LIMITS_DEPTH", "1")
    assert main(["validate", blueprint]) == 2
    assert "nested more than 1 levels deep" in capsys.readouterr().err
