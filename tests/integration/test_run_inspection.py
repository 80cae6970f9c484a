"""`legato status`, `history` and `graph --run` against a run recorded on the real
servers: tables by default, JSON with --json, the diagram coloured by status."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.test_distributed_cli import EXAMPLES, env_for

pytestmark = pytest.mark.integration


def legato(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "legato", *args],
        env=env,
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_inspect_a_distributed_run(dist_settings: Any) -> None:
    env = env_for(dist_settings)
    ran = legato(env, "run", "branch.yaml", "--input", '{"amount": 500}')
    assert ran.returncode == 0, ran.stderr
    rid = json.loads(ran.stdout)["run_id"]

    status = legato(env, "status", rid)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[:3] == [
        f"run        {rid}",
        "blueprint  branch v1",
        "status     completed",
    ]
    header = json.loads(legato(env, "status", rid, "--json").stdout)
    assert (header["run_id"], header["status"]) == (rid, "completed")

    table = legato(env, "history", rid).stdout.splitlines()
    events = [
        json.loads(line) for line in legato(env, "history", "--json", rid).stdout.splitlines()
    ]
    assert [row.split()[1] for row in table[1:]] == [e["type"] for e in events]
    assert any(row.split()[1:3] == ["step_skipped", "approve"] for row in table)

    graph = legato(env, "graph", "branch.yaml", "--run", rid)
    assert graph.returncode == 0, graph.stderr
    lines = graph.stdout.splitlines()
    # review escalates 500 (over its limit of 100): approve is skipped.
    assert "    class n0,n2,n3 completed" in lines
    assert "    class n1 skipped" in lines

    other = legato(env, "graph", "etl.yaml", "--run", rid)
    assert other.returncode == 2 and "runs blueprint 'branch'" in other.stderr
