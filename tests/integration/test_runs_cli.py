"""`legato runs` and `legato history RUN --follow` against a deployment: the commands
run as processes, a worker runs in this one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

import legato
from legato.adapters import open_backend
from tests.integration.test_distributed_cli import env_for

pytestmark = pytest.mark.integration
DEADLINE = 120.0  # the most a command may take before the test gives up (not a timing check)


async def double(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


async def boom(ctx: legato.StepContext) -> None:
    raise legato.NonRetryableError("db down")


def legato_cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "legato", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=env_for(settings),
    )


async def test_runs_lists_by_blueprint_and_status_and_pages(dist_settings: Any) -> None:
    bp = "runs_" + uuid.uuid4().hex[:8]
    ok = legato.compile(legato.Flow(bp).node("a", double))
    dist = await open_backend(dist_settings)
    engine = legato.Engine(dist)
    engine.start_workers()
    try:
        made = []
        for i in range(3):
            made.append(await engine.start(ok, i))
            await engine.wait(made[-1], timeout=DEADLINE)
        waiting = await engine.start(
            legato.compile(
                legato.Flow(bp + "_w").node("w", "legato.wait_for_signal", params={"signal": "go"})
            ),
            None,
        )
        async with asyncio.timeout(DEADLINE):  # parked before the engine closes
            async for event in engine.control.follow(waiting, interval=0.05):
                if event.__struct_config__.tag == "step_waiting":
                    break
    finally:
        await engine.close()
        await dist.close()
    out = legato_cli(dist_settings, "runs", "--blueprint", bp, "--json")
    assert out.returncode == 0, out.stderr
    page = json.loads(out.stdout)
    assert [r["run_id"] for r in page["runs"]] == made[::-1] and page["cursor"] is None
    assert {r["status"] for r in page["runs"]} == {"completed"}
    assert all(r["ended_at"] and r["blueprint_version"] == "1" for r in page["runs"])
    first = legato_cli(dist_settings, "runs", "--blueprint", bp, "--limit", "2", "--json")
    cursor = json.loads(first.stdout)["cursor"]
    rest = legato_cli(dist_settings, "runs", "--blueprint", bp, "--cursor", cursor, "--json")
    assert [r["run_id"] for r in json.loads(rest.stdout)["runs"]] == [made[0]]
    running = legato_cli(dist_settings, "runs", "--status", "running", "--since", "1h", "--json")
    assert waiting in [r["run_id"] for r in json.loads(running.stdout)["runs"]]
    table = legato_cli(dist_settings, "runs", "--blueprint", bp, "--limit", "2")
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["RUN", "BLUEPRINT", "STATUS", "STARTED", "(UTC)", "TOOK"]
    assert [line.split()[0] for line in lines[1:3]] == made[:0:-1]
    assert lines[3].startswith("more: --cursor ")
    bad = legato_cli(dist_settings, "runs", "--since", "last tuesday")
    assert bad.returncode == 2 and "neither a duration" in bad.stderr and not bad.stdout


async def follow(settings: Any, run_id: str) -> tuple[asyncio.subprocess.Process, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "legato",
        "history",
        run_id,
        "--follow",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(settings),
    )
    return proc, proc.stdout


async def test_history_follow_prints_events_as_they_happen_until_the_end(
    dist_settings: Any,
) -> None:
    bp = "follow_" + uuid.uuid4().hex[:8]
    flow = (
        legato.Flow(bp)
        .node("a", double)
        .node("w", "legato.wait_for_signal", params={"signal": "go"})
        .node("b", double)
        .edge("a", "w")
        .edge("w", "b")
    )
    dist = await open_backend(dist_settings)
    engine = legato.Engine(dist)
    engine.start_workers()
    try:
        rid = await engine.start(legato.compile(flow), 2)
        proc, stdout = await follow(dist_settings, rid)
        seen = []
        async with asyncio.timeout(DEADLINE):
            while not seen or seen[-1]["type"] != "step_waiting":
                seen.append(json.loads(await stdout.readline()))
            assert proc.returncode is None  # still following: the run waits
            await engine.signal(rid, "go", 5)
            rest, err = await proc.communicate()
        seen += [json.loads(line) for line in rest.decode().splitlines()]
        assert proc.returncode == 0, err
        history = [json.loads(legato_json(e)) for e in await engine.history(rid)]
        assert seen == history  # every event once, in order, the end included
        assert seen[-1]["type"] == "run_completed"

        failing = await engine.start(legato.compile(legato.Flow(bp + "_f").node("x", boom)), 1)
        proc, _ = await follow(dist_settings, failing)
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
        assert proc.returncode == 1, err
        assert json.loads(out.decode().splitlines()[-1])["type"] == "run_failed"
        status = legato_cli(dist_settings, "status", failing)
        assert status.returncode == 0, status.stderr
        assert "failure:\nx, attempt 1: NonRetryableError: db down\n    Traceback" in status.stdout
        assert 'raise legato.NonRetryableError("db down")' in status.stdout
        history = legato_cli(dist_settings, "history", failing)
        assert "\nfailures:\nx, attempt 1: NonRetryableError: db down" in history.stdout
    finally:
        await engine.close()
        await dist.close()


def legato_json(event: Any) -> str:
    import msgspec

    return msgspec.json.encode(event).decode()


def test_follow_of_an_unknown_run_is_an_error(dist_settings: Any) -> None:
    out = legato_cli(dist_settings, "history", "no-such-run", "--follow")
    assert out.returncode == 1 and "does not exist" in out.stderr
