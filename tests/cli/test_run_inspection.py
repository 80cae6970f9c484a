"""`legato status` / `history` tables and `legato graph --run` colours, from
histories alone (no servers): hand-written event lists and real embedded runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import legato
from legato.cli.mermaid import STATUS_STYLES, mermaid
from legato.cli.progress import node_statuses
from legato.cli.tables import history_table, status_table, table
from legato.runtime.blueprint import load_blueprint
from legato.schemas import (
    RunCompleted,
    RunFailed,
    RunHeader,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepWaiting,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ETL = load_blueprint(str(EXAMPLES / "etl.yaml"))
T0 = 1_780_000_000.0


def started() -> RunStarted:
    return RunStarted(at=T0, run_id="r1", blueprint_id="etl", version="1")


def done(step: str, at: float = 1.0, **kw: Any) -> StepCompleted:
    return StepCompleted(at=T0 + at, step_id=step, node=step.split("#")[0], attempt=1, **kw)


def test_a_completed_run_colours_every_node_completed() -> None:
    events = [started(), *(done(n.id) for n in ETL.nodes), RunCompleted(at=T0 + 2)]
    statuses = node_statuses(ETL, events)
    assert set(statuses.values()) == {"completed"}
    text = mermaid(ETL, statuses)
    assert text.startswith(mermaid(ETL))  # the plain diagram, then the classes
    assert text.count("    classDef ") == len(STATUS_STYLES)
    assert "    class n0,n1,n2,n3 completed" in text.splitlines()


def test_a_running_run_shows_due_jobs_running_and_the_rest_pending() -> None:
    statuses = node_statuses(ETL, [started(), done("extract_users")])
    assert statuses == {
        "extract_users": "completed",
        "extract_orders": "running",  # a start node: its job went out with the run
        "transform": "pending",  # a join of all: extract_orders has not delivered
        "load": "pending",
    }
    both = node_statuses(ETL, [started(), done("extract_users"), done("extract_orders")])
    assert (both["transform"], both["load"]) == ("running", "pending")


def test_a_retry_is_running_and_a_final_failure_is_failed() -> None:
    before = [started(), done("extract_users"), done("extract_orders"), done("transform")]
    retry = StepFailed(
        at=T0 + 3, step_id="load", node="load", attempt=1, error="x", retry_at=T0 + 4
    )
    assert node_statuses(ETL, [*before, retry])["load"] == "running"
    final = StepFailed(at=T0 + 5, step_id="load", node="load", attempt=3, error="gone")
    statuses = node_statuses(ETL, [*before, retry, final, RunFailed(at=T0 + 5, error="gone")])
    assert statuses["load"] == "failed"
    assert "    class n3 failed" in mermaid(ETL, statuses).splitlines()


def test_a_failed_run_leaves_unreached_nodes_pending() -> None:
    failed = StepFailed(
        at=T0 + 1, step_id="extract_users", node="extract_users", attempt=1, error="x"
    )
    events = [started(), failed, RunFailed(at=T0 + 1, error="x", step_id="extract_users")]
    statuses = node_statuses(ETL, events)
    assert statuses == {
        "extract_users": "failed",
        "extract_orders": "pending",
        "transform": "pending",
        "load": "pending",
    }


def test_a_waiting_step_is_running() -> None:
    wait = StepWaiting(at=T0 + 1, step_id="extract_users", node="extract_users", signal="go")
    assert node_statuses(ETL, [started(), wait])["extract_users"] == "running"


def test_a_fallback_that_stood_in_shows_the_node_failed_and_the_fallback_completed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fb.yaml"
    path.write_text(
        "id: fb\nnodes:\n  - {id: a, uses: m:a, config: {fallback: b}}\n  - {id: b, uses: m:b}\n"
    )
    bp = load_blueprint(str(path))
    events = [
        RunStarted(at=T0, run_id="r", blueprint_id="fb", version="1"),
        StepFailed(at=T0 + 1, step_id="a", node="a", attempt=1, error="boom"),
        done("a", 2, fallback="b"),
        RunCompleted(at=T0 + 3),
    ]
    assert node_statuses(bp, events) == {"a": "failed", "b": "completed"}


async def test_a_real_branch_run_colours_the_untaken_branch_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(str(EXAMPLES / "branch.yaml")), {"amount": 5})
        events = await engine.backend.store.history(result.run_id)
        header = await engine.status(result.run_id)
    bp = load_blueprint(str(EXAMPLES / "branch.yaml"))
    statuses = node_statuses(bp, events)
    assert statuses == {
        "review": "completed",
        "approve": "completed",
        "escalate": "skipped",
        "notify": "completed",
    }
    lines = mermaid(bp, statuses).splitlines()
    assert "    class n0,n1,n3 completed" in lines and "    class n2 skipped" in lines

    rows = history_table(events).splitlines()
    assert rows[0].split() == ["TIME", "EVENT", "STEP", "ATTEMPT", "DETAIL"]
    assert [r.split()[1] for r in rows[1:]] == [type(e).__struct_config__.tag for e in events]
    assert any(r.split()[1:4] == ["step_completed", "review", "1"] for r in rows)
    assert "action=approve" in next(r for r in rows if " review " in r)
    assert any(r.split()[1:3] == ["step_skipped", "escalate"] for r in rows)

    lines = status_table(header).splitlines()
    assert lines[:3] == [
        f"run        {result.run_id}",
        "blueprint  branch v1",
        "status     completed",
    ]
    assert lines[-1] == 'input      {"amount": 5}'


def test_history_table_shows_errors_retries_and_fallback_events() -> None:
    events = [
        started(),
        StepFailed(
            at=T0 + 1.5, step_id="load", node="load", attempt=1, error="no\nroute", retry_at=T0 + 2
        ),
        StepFailed(at=T0 + 3, step_id="load", node="backup", attempt=1, error="x" * 100),
    ]
    rows = history_table(events).splitlines()
    assert rows[1].startswith("20:26:40.000  run_started")
    assert rows[2].split("  ")[0] == "20:26:41.500"
    assert rows[2].endswith("no route (retry at 20:26:42.000)")
    assert "load (backup)" in rows[3] and rows[3].endswith("x" * 59 + "…")


def test_status_table_of_a_failed_run() -> None:
    header = RunHeader(
        run_id="r9",
        blueprint_id="etl",
        version="2",
        status="failed",
        error="load: gone",
        created_at=T0,
        updated_at=T0 + 2.25,
    )
    assert status_table(header).splitlines() == [
        "run        r9",
        "blueprint  etl v2",
        "status     failed",
        "created    2026-05-28 20:26:40 UTC",
        "updated    2026-05-28 20:26:42 UTC (+2.250s)",
        "error      load: gone",
    ]


def test_table_pads_columns_without_trailing_spaces() -> None:
    assert table(("A", "LONGER"), [("xyz", ""), ("1", "2")]) == "A    LONGER\nxyz\n1    2"
