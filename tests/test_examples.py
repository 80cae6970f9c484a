"""Every example in examples/ runs through the CLI to its exact result."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import legato
from legato.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(capsys: pytest.CaptureFixture[str], name: str, value: Any = None) -> tuple[int, Any]:
    args = ["run", str(EXAMPLES / name)]
    if value is not None:
        args += ["--input", json.dumps(value)]
    code = main(args)
    out = json.loads(capsys.readouterr().out)
    return code, out


def test_etl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "etl.yaml")
    assert code == 0 and out["status"] == "completed"
    assert out["outputs"]["transform"] == {"ada": 42, "grace": 0, "edsger": 7}
    assert out["outputs"]["load"] == {"rows": 3, "attempt": 2}  # retried once
    assert out["context"] == {"loaded_rows": 3}


@pytest.mark.parametrize(
    ("amount", "taken", "result"),
    [(50, "approve", "approved 50"), (250, "escalate", "escalated 250")],
)
def test_branch(capsys: pytest.CaptureFixture[str], amount: int, taken: str, result: str) -> None:
    code, out = run(capsys, "branch.yaml", {"amount": amount})
    assert code == 0
    assert out["outputs"] == {
        "review": {"amount": amount},
        taken: result,
        "notify": f"notified: {{'{taken}': '{result}'}}",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("annabelle", {"celebrate": "annabelle passed with 90"}),
        ("ann", {"coach": "coach ann needs coaching"}),
    ],
)
def test_condition(capsys: pytest.CaptureFixture[str], name: str, expected: dict[str, str]) -> None:
    code, out = run(capsys, "condition.yaml", {"name": name, "pass_mark": 40})
    assert code == 0
    assert out["outputs"] == {"score": {"name": name, "score": len(name) * 10}, **expected}


@pytest.mark.parametrize(
    ("down", "acks"), [([], 2), (["r2"], 2), (["r1", "r3"], None), (["r1", "r2", "r3"], None)]
)
def test_quorum(capsys: pytest.CaptureFixture[str], down: list[str], acks: int | None) -> None:
    code, out = run(capsys, "quorum.yaml", {"down": down})
    assert code == 0 and out["status"] == "completed"
    ran = {r for r in ("r1", "r2", "r3") if r not in down}
    assert {r for r in ("r1", "r2", "r3") if r in out["outputs"]} == ran
    commit = out["outputs"].get("commit")
    assert commit == ({"acks": acks, "version": 7} if acks else None)


@pytest.mark.parametrize("images", [["a.png", "b.png", "c.png"], []])
def test_foreach(capsys: pytest.CaptureFixture[str], images: list[str]) -> None:
    code, out = run(capsys, "foreach.yaml", {"images": images})
    assert code == 0 and out["status"] == "completed"
    thumbs = [{"thumb": f"thumb-{name}", "position": i} for i, name in enumerate(images)]
    assert out["outputs"]["resize"] == thumbs
    assert out["outputs"]["publish"] == {
        "count": len(images),
        "first": thumbs[0]["thumb"] if thumbs else None,
    }
    assert {k for k in out["outputs"] if k.startswith("resize[")} == {
        f"resize[{i}]" for i in range(len(images))
    }


def test_loop(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "loop.yaml", {"upto": 4})
    assert code == 0
    assert [k for k in out["outputs"] if k.startswith("add#")] == [
        "add#0",
        "add#1",
        "add#2",
        "add#3",
    ]
    assert out["outputs"]["report"] == "sum of 1..4 is 10"


def test_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "inputs.yaml", {"user": "bo", "extra_seats": 2})
    assert code == 0
    assert out["outputs"]["invoice"] == "invoice for 7 seats of pro to bo@example.com"


def test_approval_times_out_into_the_fallback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "approval.yaml", {"amount": 10})
    assert code == 0
    assert out["outputs"]["wait"] == {
        "approved": False,
        "reason": "no signal 'approval' within 2.0s",
    }
    assert out["outputs"]["archive"] == "rejected"


async def test_approval_with_a_signal() -> None:
    sys.path.insert(0, str(EXAMPLES))
    reg = legato.compile(str(EXAMPLES / "approval.yaml"))
    async with legato.Engine() as engine:
        engine.start_workers()
        rid = await engine.start(reg, {"amount": 10})
        for _ in range(500):
            if await engine.backend.store.get_waiters(rid, "approval"):
                break
            await asyncio.sleep(0.005)
        await engine.signal(rid, "approval", {"approved": True, "by": "mia"})
        result = await engine.wait(rid, timeout=5)
    assert result.outputs["wait"] == {"approved": True, "by": "mia"}
    assert result.outputs["archive"] == "approved"


def test_builder_example() -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "builder.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"]["greet"] == "Hello, Ada! (3 letters checked)"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_validates_against_the_committed_json_schema(path: Path) -> None:
    import jsonschema
    import yaml

    schema = json.loads((EXAMPLES.parent / "schemas" / "blueprint.schema.json").read_text())
    errors = jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text()))
    assert [e.message for e in errors] == []
