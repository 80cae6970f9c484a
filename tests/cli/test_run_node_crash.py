"""`legato run` when node code calls sys.exit or raises KeyboardInterrupt (defect 3 of
issue 10): the run fails, its JSON is printed, and the exit code says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BLUEPRINT = """
id: crash
nodes:
  - {id: x, uses: "crashnodes:%s"}
"""
NODES = """
import sys

def exits(ctx):
    sys.exit(0)

async def interrupts(ctx):
    raise KeyboardInterrupt
"""


@pytest.mark.parametrize("node", ["exits", "interrupts"])
def test_a_node_that_exits_fails_the_run_and_legato_run_says_so(tmp_path: Path, node: str) -> None:
    (tmp_path / "crashnodes.py").write_text(NODES)
    (tmp_path / "crash.yaml").write_text(BLUEPRINT % node)
    done = subprocess.run(
        [sys.executable, "-m", "legato", "run", str(tmp_path / "crash.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "failed"
    name = "SystemExit" if node == "exits" else "KeyboardInterrupt"
    assert f"node code raised {name}" in out["error"]


def test_defect_12_run_timeout_with_a_busy_sync_node_returns_at_once(tmp_path: Path) -> None:
    import time

    (tmp_path / "crashnodes.py").write_text("import time\n\ndef busy(ctx):\n    time.sleep(60)\n")
    (tmp_path / "crash.yaml").write_text(BLUEPRINT % "busy")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "legato", "run", str(tmp_path / "crash.yaml"), "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "cancelled"
    assert took < 20  # not the node's 60 s: its daemon thread is abandoned
