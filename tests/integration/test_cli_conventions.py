"""The CLI's conventions against the real servers: what `legato run` prints for values
JSON has no form for is the same embedded and distributed; -o json|jsonl of history;
the deprecated `start --version`; a closed pipe after `history`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_conventions import EXPECTED, strict_json
from tests.integration.test_distributed_cli import env_for

pytestmark = pytest.mark.integration

ODD = (
    "import dataclasses, datetime, enum, uuid\n"
    "class Colour(enum.Enum):\n    RED = 'red'\n"
    "@dataclasses.dataclass\nclass Point:\n    x: int\n    y: float\n"
    "async def odd(ctx):\n"
    "    print('a node printing')\n"
    "    return {'nan': float('nan'), 'inf': float('inf'), 'ninf': float('-inf'),\n"
    "            'bytes': b'\\x00hi', 'set': {3, 1, 2}, 'tuple': (1, 'a'),\n"
    "            'keys': {(1, 2): 'tuple', 3: 'int', None: 'none', True: 'bool'},\n"
    "            'when': datetime.datetime(2026, 12, 2, 9, 30, tzinfo=datetime.UTC),\n"
    "            'id': uuid.UUID(int=1), 'colour': Colour.RED,\n"
    "            'point': Point(1, float('nan'))}\n"
)


def legato(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "legato", *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired as exc:  # say what it was doing
        raise AssertionError(f"legato {' '.join(args)}: no answer; stderr: {exc.stderr!r}") from exc


def test_the_same_json_embedded_and_distributed(dist_settings: Any, tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_text(ODD)
    (tmp_path / "odd.yaml").write_text("id: odd\nnodes:\n  - {id: a, uses: 'odd:odd'}\n")
    embedded_env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    printed = {}
    for mode, env in (("embedded", embedded_env), ("distributed", env_for(dist_settings))):
        ran = legato(env, tmp_path, "run", "odd.yaml")
        assert ran.returncode == 0, (mode, ran.stderr)
        assert "a node printing" in ran.stderr
        printed[mode] = strict_json(ran.stdout)
        assert printed[mode]["outputs"] == {"a": EXPECTED}, mode
    rid = printed["distributed"]["run_id"]
    env = env_for(dist_settings)

    lines = legato(env, tmp_path, "history", rid, "-o", "jsonl").stdout.splitlines()
    events = [strict_json(line) for line in lines]
    assert strict_json(legato(env, tmp_path, "history", rid, "-o", "json").stdout) == events
    assert [
        strict_json(x) for x in legato(env, tmp_path, "history", rid, "--json").stdout.splitlines()
    ] == events
    completed = next(e for e in events if e["type"] == "step_completed")
    assert completed["output"] == EXPECTED
    header = strict_json(legato(env, tmp_path, "status", rid, "-o", "json").stdout)
    assert header["status"] == "completed"

    piped = subprocess.run(
        [
            "bash",
            "-c",
            f'"{sys.executable}" -m legato history {rid} | head -1; '
            'echo "exit ${PIPESTATUS[0]}" >&2',
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.stdout.startswith("TIME")
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr

    started = legato(env, tmp_path, "start", "odd", "--version", "1")
    assert started.returncode == 0, started.stderr
    assert "--version is deprecated" in started.stderr
    other = strict_json(started.stdout)["run_id"]
    assert strict_json(legato(env, tmp_path, "status", other, "--json").stdout)["version"] == "1"
    # No worker runs here: waiting gives up, clearly, and the run goes on.
    waited = legato(env, tmp_path, "start", "odd", "--wait", "--timeout", "0.5")
    assert waited.returncode == 1 and "Traceback" not in waited.stderr
    assert "did not finish within 0.5s; it goes on (legato status " in waited.stderr
