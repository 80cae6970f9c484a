"""The command line's conventions: --version, -o/--output, valid JSON whatever a node
returns, node output kept off stdout, --input-file -, logs, completion, ports in use,
closed pipes."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from legato.cli import build_parser, main
from legato.cli.jsontext import dumps
from legato.cli.output import emit, show_table

ROOT = Path(__file__).resolve().parents[2]


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity (which Python's json would accept)."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    return subprocess.run(
        [sys.executable, "-m", "legato", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "odd.py").write_text(
        "import dataclasses, datetime, enum, logging, os, sys, uuid\n"
        "class Colour(enum.Enum):\n    RED = 'red'\n"
        "@dataclasses.dataclass\nclass Point:\n    x: int\n    y: float\n"
        "print('printed at import')\n"
        "async def odd(ctx):\n"
        "    return {'nan': float('nan'), 'inf': float('inf'), 'ninf': float('-inf'),\n"
        "            'bytes': b'\\x00hi', 'set': {3, 1, 2}, 'tuple': (1, 'a'),\n"
        "            'keys': {(1, 2): 'tuple', 3: 'int', None: 'none', True: 'bool'},\n"
        "            'when': datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.UTC),\n"
        "            'id': uuid.UUID(int=1), 'colour': Colour.RED,\n"
        "            'point': Point(1, float('nan'))}\n"
        "def noisy(ctx):\n"
        "    print('from print')\n"
        "    sys.stdout.write('from sys.stdout\\n'); sys.stdout.flush()\n"
        "    os.write(1, b'from fd 1\\n')\n"
        "    os.system('echo from a child process')\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    logging.getLogger('odd').info('info from a node')\n"
        "    return 'ok'\n"
    )
    (tmp_path / "odd.yaml").write_text("id: odd\nnodes:\n  - {id: a, uses: 'odd:odd'}\n")
    (tmp_path / "noisy.yaml").write_text("id: noisy\nnodes:\n  - {id: n, uses: 'odd:noisy'}\n")
    (tmp_path / "echo.yaml").write_text("id: echo\nnodes:\n  - {id: e, uses: 'odd:echo'}\n")
    with (tmp_path / "odd.py").open("a") as f:
        f.write("async def echo(ctx):\n    return ctx.input\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


EXPECTED = {
    "nan": None,
    "inf": None,
    "ninf": None,
    "bytes": "AGhp",
    "set": [1, 2, 3],
    "tuple": [1, "a"],
    "keys": {"[1, 2]": "tuple", "3": "int", "null": "none", "true": "bool"},
    "when": "2026-12-02T09:30:00Z",
    "id": "00000000-0000-0000-0000-000000000001",
    "colour": "red",
    "point": {"x": 1, "y": None},
}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out == f"legato {version}\n"


def test_run_output_is_valid_json_whatever_the_node_returns(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "odd.yaml"]) == 0
    captured = capsys.readouterr()
    out = strict_json(captured.out)
    assert out["status"] == "completed"
    assert out["outputs"] == {"a": EXPECTED}
    assert "printed at import" in captured.err  # the node module printed while imported


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (float("nan"), "null"),
        ({"a": [float("inf"), b"\xff"]}, '{"a": [null, "/w=="]}'),
        ({frozenset({1}): 1}, '{"[1]": 1}'),
        ({1.5: {"x", 1}}, '{"1.5": ["x", 1]}'),  # unsortable set: as it iterates, or sorted
        (object.__new__(type("Thing", (), {"__repr__": lambda self: "<thing>"})), '"<thing>"'),
    ],
)
def test_dumps(value: Any, text: str) -> None:
    if isinstance(value, dict) and 1.5 in value:
        assert strict_json(dumps(value))["1.5"] in (["x", 1], [1, "x"])
    else:
        assert dumps(value) == text


def test_a_result_nested_too_deep_is_a_clear_error() -> None:
    from legato.runtime.errors import LegatoError

    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(LegatoError, match="nests too deeply"):
        dumps(deep)


def test_node_output_goes_to_stderr_at_the_descriptor_level(workdir: Path) -> None:
    """print, sys.stdout, os.write(1, ...) and a child process: none lands on stdout."""
    ran = cli("run", "noisy.yaml", cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    assert strict_json(ran.stdout)["outputs"] == {"n": "ok"}
    assert ran.stdout.count("\n") == 1
    for line in ("from print", "from sys.stdout", "from fd 1", "from a child process"):
        assert line in ran.stderr
    assert "to stderr" in ran.stderr and "printed at import" in ran.stderr
    assert "info from a node" not in ran.stderr  # warnings and errors only, by default


def test_run_log_level_and_format(workdir: Path) -> None:
    ran = cli("run", "noisy.yaml", "--log-level", "info", "--log-format", "json", cwd=workdir)
    assert ran.returncode == 0, ran.stderr
    logged = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    (entry,) = [e for e in logged if e["message"] == "info from a node"]
    assert entry["level"] == "INFO" and entry["step_id"] == "n"
    assert strict_json(ran.stdout)["status"] == "completed"


def test_input_file_dash_reads_stdin(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"n": [1, 2]}'))
    assert main(["run", "echo.yaml", "--input-file", "-"]) == 0
    assert strict_json(capsys.readouterr().out)["outputs"] == {"e": {"n": [1, 2]}}
    monkeypatch.setattr(sys, "stdin", io.StringIO("{oops"))
    assert main(["run", "echo.yaml", "--input-file", "-"]) == 2
    assert "--input-file - (stdin) is not valid JSON" in capsys.readouterr().err


def test_run_output_formats(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "echo.yaml", "--input", '{"k": 1}', "-o", "jsonl"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert strict_json(line)["outputs"] == {"e": {"k": 1}}
    assert main(["run", "echo.yaml", "--input", '{"k": 1}', "--output", "table"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1] == "status     completed"
    assert rows[2] == 'outputs.e  {"k": 1}'
    assert rows[0].startswith("run_id     ") and "\x1b" not in "".join(rows)


def test_every_command_that_prints_records_takes_output() -> None:
    parser = build_parser()
    records = [
        ["run", "f.yaml"],
        ["start", "bp"],
        ["status", "r"],
        ["history", "r"],
        ["cancel", "r"],
        ["signal", "r", "go"],
        ["reconcile", "--once"],
        ["dev", "status"],
        ["schema", "apply"],
        ["topics", "apply"],
    ]
    for args in records:
        for fmt in ("table", "json", "jsonl"):
            assert parser.parse_args([*args, "-o", fmt]).output == fmt, args
    assert parser.parse_args(["status", "r", "--json"]).output == "json"
    assert parser.parse_args(["history", "r", "--json"]).output == "jsonl"  # as it always was
    assert parser.parse_args(["history", "r"]).output == "table"
    assert parser.parse_args(["run", "f.yaml"]).output == "json"


def test_history_formats() -> None:
    from legato.schemas import RunStarted, StepCompleted

    events = [
        RunStarted(at=0.0, run_id="r", blueprint_id="b", version="1"),
        StepCompleted(at=1.0, step_id="a", node="a", attempt=1, output=float("nan")),
    ]
    out = io.StringIO()
    emit(events, "json", many=True, out=out)
    whole = strict_json(out.getvalue())
    assert [e["type"] for e in whole] == ["run_started", "step_completed"]
    assert whole[1]["output"] is None
    out = io.StringIO()
    emit(events, "jsonl", many=True, out=out)
    assert [strict_json(line) for line in out.getvalue().splitlines()] == whole


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tables_on_a_terminal_are_coloured_unless_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [["12:00:00.000", "step_completed", "a"], ["12:00:01.000", "run_failed", ""]]
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out = Terminal()
    show_table(["TIME", "EVENT", "STEP"], rows, out=out)
    text = out.getvalue()
    assert "\x1b[32mstep_completed" in text and "\x1b[31mrun_failed" in text
    assert "\x1b[1m" in text  # a bold header
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    show_table(["TIME", "EVENT", "STEP"], rows, out=out)
    assert "step_completed" in out.getvalue() and "\x1b[3" not in out.getvalue()
    piped = io.StringIO()  # not a terminal: plain columns, no escape codes
    monkeypatch.delenv("NO_COLOR")
    show_table(["TIME", "EVENT", "STEP"], rows, out=piped)
    assert piped.getvalue().splitlines() == [
        "TIME          EVENT           STEP",
        "12:00:00.000  step_completed  a",
        "12:00:01.000  run_failed",
    ]


def test_blueprint_version_and_its_deprecated_spelling(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from legato.cli import remote

    started: list[str] = []

    class Client:
        async def start(self, target: Any, value: Any, *, version: str, run_id: Any) -> str:
            started.append(version)
            return "r1"

    def with_client(args: Any, action: Any) -> Any:
        import asyncio

        return asyncio.run(action(Client()))

    monkeypatch.setattr(remote, "with_client", with_client)
    assert main(["start", "etl", "--blueprint-version", "3"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["start", "etl", "--version", "2"]) == 0
    captured = capsys.readouterr()
    assert "--version is deprecated" in captured.err and "--blueprint-version" in captured.err
    assert strict_json(captured.out) == {"run_id": "r1"}
    assert main(["start", "etl"]) == 0
    assert started == ["3", "2", "1"]
    assert main(["start", "etl", "--version", "2", "--blueprint-version", "2"]) == 2
    assert "give --blueprint-version only" in capsys.readouterr().err


def test_completion_scripts(tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        ran = cli("completion", shell, cwd=tmp_path)
        assert ran.returncode == 0 and "legato" in ran.stdout, ran.stderr
    script = cli("completion", "bash", cwd=tmp_path).stdout
    bin_dir = Path(sys.executable).parent
    probe = (
        f'export PATH="{bin_dir}:$PATH"; eval "$1"; '
        'COMP_LINE="legato schem"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(legato schem); '
        "COMP_CWORD=1; _python_argcomplete legato schem legato; "
        'echo "[${COMPREPLY[*]}]"; '
        'COMP_LINE="legato start x --blue"; COMP_POINT=${#COMP_LINE}; '
        "COMP_WORDS=(legato start x --blue); COMP_CWORD=3; "
        '_python_argcomplete legato --blue x; echo "[${COMPREPLY[*]}]"'
    )
    ran = subprocess.run(
        ["bash", "-c", probe, "bash", script], capture_output=True, text=True, timeout=120
    )
    assert ran.stdout.splitlines() == ["[schema ]", "[--blueprint-version ]"], ran.stderr


def test_a_second_worker_on_a_taken_health_port_exits_2(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(
        LEGATO_KAFKA="kafka://127.0.0.1:1",
        LEGATO_CASSANDRA="cassandra://127.0.0.1:1/ks",
        LEGATO_REDIS="redis://127.0.0.1:1/0",
    )
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "legato", "worker", "--health-port", str(port)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        taken.close()
    assert ran.returncode == 2, ran.stderr
    assert f"legato worker: cannot listen on port {port} (" in ran.stderr
    assert "--health-port PORT" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_closed_stdout_pipe_exits_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written (as after `head -1`)
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "legato", "jsonschema"],
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert ran.returncode in (0, 141)
    assert ran.stderr == ""
