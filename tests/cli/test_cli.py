"""The command line: exit codes, JSON output, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from legato.cli import main


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "steps.py").write_text(
        "import legato\n"
        "async def double(ctx):\n    return ctx.input * 2\n"
        "async def boom(ctx):\n    raise legato.NonRetryableError('the disk is full')\n"
        "@legato.node('registered.triple')\n"
        "async def triple(ctx):\n    return ctx.input * 3\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_run_prints_one_json_object(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bp = write(
        workdir / "bp.yaml",
        "id: d\nnodes:\n  - {id: a, uses: 'steps:double'}\n"
        "  - {id: b, uses: 'steps:double'}\nedges:\n"
        "  - {source: a, target: b}\n",
    )
    assert main(["run", bp, "--input", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "completed"
    assert out["outputs"] == {"a": 10, "b": 20}
    assert "error" not in out and len(out["run_id"]) == 32


def test_run_with_input_file_and_import(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bp = write(
        workdir / "bp.json",
        json.dumps({"id": "t", "nodes": [{"id": "t", "uses": "registered.triple"}]}),
    )
    (workdir / "in.json").write_text("7")
    assert main(["run", bp, "--input-file", "in.json", "--import", "steps"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == {"t": 21}


def test_failed_run_exits_1_with_the_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bp = write(workdir / "bp.yaml", "id: f\nnodes:\n  - {id: a, uses: 'steps:boom'}\n")
    assert main(["run", bp]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "failed"
    assert out["error"] == "step a failed: the disk is full"


def test_invalid_blueprint_exits_2_listing_every_problem(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bp = write(
        workdir / "bp.yaml",
        "id: x\nnodes:\n  - {id: a, uses: 'steps:nope', confg: {}}\n"
        "  - {id: b, uses: 'steps:double', config: {timeout: -1}}\n"
        "edges:\n  - {source: a, target: c}\n  - {source: a, target: b, condition: 'x >'}\n",
    )
    assert main(["run", bp]) == 2
    err = capsys.readouterr().err
    assert "nodes[0].confg: unknown key (did you mean 'config'?)" in err
    assert (
        main(
            [
                "run",
                write(
                    workdir / "bp2.yaml",
                    "id: x\nnodes:\n  - {id: a, uses: 'steps:nope'}\n"
                    "  - {id: b, uses: 'steps:double', config: {timeout: -1}}\n"
                    "edges:\n  - {source: a, target: c}\n"
                    "  - {source: a, target: b, condition: 'x >'}\n",
                ),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "4 problems" in err
    for problem in (
        "nodes[0].uses: unresolvable implementation: module 'steps' has no attribute 'nope'",
        "nodes[1].config.timeout: must be a positive number of seconds",
        "edges[0].target: unknown node 'c'",
        "edges[1].condition: invalid expression: Failed to parse expression",
    ):
        assert problem in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "bp.yaml", "--input", "{oops"], "--input is not valid JSON"),
        (
            ["run", "bp.yaml", "--import", "no_such_module_xyz"],
            "--import no_such_module_xyz: No module named 'no_such_module_xyz'",
        ),
        (["run", "bp.yaml", "--input-file", "missing.json"], "--input-file: No such file"),
        (
            ["validate", "bp.yaml", "--import", "raises_at_import"],
            "legato validate: --import raises_at_import: it raised RuntimeError: "
            "set API_KEY first (at ",
        ),
    ],
)
def test_usage_errors_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write(workdir / "bp.yaml", "id: d\nnodes:\n  - {id: a, uses: 'steps:double'}\n")
    write(workdir / "raises_at_import.py", "raise RuntimeError('set API_KEY first')\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_file_and_bad_yaml(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "nowhere.yaml"]) == 2
    assert "nowhere.yaml" in capsys.readouterr().err
    write(workdir / "bad.yaml", "id: [unclosed\n")
    assert main(["validate", "bad.yaml"]) == 2
    err = capsys.readouterr().err
    assert "invalid blueprint bad.yaml: 1 problem" in err
    assert "not valid YAML" in err


def test_validate_reports_duplicate_keys_and_refuses_an_alias_bomb(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.test_documents import BOMB

    dup = write(workdir / "dup.yaml", "id: d\nnodes:\n  - {id: a, uses: 'steps:double'}\nid: e\n")
    assert main(["validate", dup]) == 2
    assert "  - id: duplicate key (line 4; first on line 1)" in capsys.readouterr().err
    assert main(["validate", write(workdir / "bomb.yaml", BOMB)]) == 2
    assert "aliases expand to more than 10000 values" in capsys.readouterr().err


def test_validate(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bp = write(
        workdir / "bp.yaml",
        "id: d\nnodes:\n  - {id: a, uses: 'steps:double'}\n  - {id: lone, uses: 'steps:double'}\n",
    )
    assert main(["validate", bp]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "ok: 2 nodes, 0 edges"
    assert "warning: node 'a' has no edges" in captured.err


def test_graph_is_exact_mermaid(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bp = write(
        workdir / "bp.yaml",
        "id: g\nnodes:\n  - {id: a, uses: 'm:a', config: {fallback: fb}}\n"
        "  - {id: b, uses: 'm:b'}\n  - {id: fb, uses: 'm:fb'}\nedges:\n"
        "  - {source: a, target: b, action: go, condition: 'output > 1'}\n"
        "  - {source: b, target: b, loop: {max_iterations: 3}}\n",
    )
    assert main(["graph", bp]) == 0
    assert capsys.readouterr().out == (
        "flowchart TD\n"
        '    n0["a<br/><small>m:a</small>"]\n'
        '    n1["b<br/><small>m:b</small>"]\n'
        '    n2["fb<br/><small>m:fb</small>"]\n'
        "    n0 -->|go / if output > 1| n1\n"
        "    n1 -.->|loop ≤3| n1\n"
        "    n0 -.->|fallback| n2\n"
    )


def test_jsonschema_matches_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jsonschema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    committed = Path(__file__).resolve().parents[2] / "schemas" / "blueprint.schema.json"
    assert printed == json.loads(committed.read_text()), "run: legato jsonschema > " + str(
        committed
    )
    assert printed["$defs"]["Node"]["required"] == ["id", "uses"]


def test_the_schemas_do_not_depend_on_the_msgspec_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """msgspec releases before 0.19 put ``null`` first in an ``anyOf``, and those
    before 0.23 kept docstrings indented; the generated files must not change."""
    import msgspec

    from legato.schemas import blueprint, commands

    committed = Path(__file__).resolve().parents[2] / "schemas"
    real = msgspec.json.schema

    def older(tp: object) -> dict[str, object]:
        schema: dict[str, object] = real(tp)
        defs: dict[str, dict[str, object]] = schema.get("$defs", {})  # type: ignore[assignment]
        for name, entry in defs.items():
            cls = getattr(blueprint, name, None) or getattr(commands, name, None)
            if cls is not None and cls.__doc__:
                entry["description"] = cls.__doc__.strip()  # still indented
        _null_first(schema)
        return schema

    monkeypatch.setattr(msgspec.json, "schema", older)
    assert blueprint.blueprint_json_schema() == json.loads(
        (committed / "blueprint.schema.json").read_text()
    )
    assert commands.command_json_schema() == json.loads(
        (committed / "command.schema.json").read_text()
    )


def _null_first(value: object) -> None:
    if isinstance(value, dict):
        options = value.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            value["anyOf"] = [{"type": "null"}] + [o for o in options if o != {"type": "null"}]
        for v in value.values():
            _null_first(v)
    elif isinstance(value, list):
        for v in value:
            _null_first(v)


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2


def test_commands_jsonschema_matches_the_committed_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import msgspec

    from legato.schemas.commands import Command, StartRun

    assert main(["jsonschema", "--commands"]) == 0
    printed = json.loads(capsys.readouterr().out)
    committed = Path(__file__).resolve().parents[2] / "schemas" / "command.schema.json"
    assert printed == json.loads(committed.read_text())
    example = b'{"type": "start_run", "blueprint": "etl", "input": {"day": 1}, "extra": 0}'
    assert msgspec.json.decode(example, type=Command) == StartRun("etl", "1", {"day": 1})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "--lease-ttl", "0"], "--lease-ttl must be positive"),
        (["worker", "--concurrency", "0"], "--concurrency must be at least 1"),
    ],
)
def test_worker_usage_errors(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("LEGATO_KAFKA", "kafka://127.0.0.1:1")
    monkeypatch.setenv("LEGATO_CASSANDRA", "cassandra://127.0.0.1:1/ks")
    monkeypatch.setenv("LEGATO_REDIS", "redis://127.0.0.1:1/0")
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_worker_without_servers_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LEGATO_KAFKA", "LEGATO_CASSANDRA", "LEGATO_REDIS", "LEGATO_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert main(["worker"]) == 2
    assert "a worker needs Kafka, Cassandra and Redis" in capsys.readouterr().err
