"""The REST API on an embedded engine: every endpoint, and each bad input its
documented error with nothing changed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import msgspec
import yaml

from legato.server.openapi import openapi_document
from tests.server.conftest import TOKEN
from tests.server.demo_nodes import BLUEPRINT, FAILING, WAITING


async def wait_ended(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(500):
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["ended"]:
            return run
        await asyncio.sleep(0.01)
    raise AssertionError(f"run {run_id} did not end")


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def test_register_start_and_inspect_a_run(client: httpx.AsyncClient) -> None:
    r = await client.post("/blueprints", json=BLUEPRINT)
    assert r.status_code == 201 and r.json() == {"id": "demo", "version": "1", "registered": True}
    r = await client.post(
        "/runs", json={"type": "start_run", "blueprint": "demo", "input": {"n": 5}, "run_id": "r1"}
    )
    assert r.status_code == 201 and r.json() == {"run_id": "r1"}
    run = await wait_ended(client, "r1")
    assert run["status"] == "completed" and run["blueprint_id"] == "demo"
    assert run["nodes"] == {"double": "completed", "add_one": "completed"}
    steps = {s["step_id"]: s for s in (await client.get("/runs/r1/steps")).json()["steps"]}
    assert steps["double"]["input"] == {"n": 5} and steps["double"]["output"] == {"n": 10}
    assert steps["add_one"]["input"] == {"n": 10} and steps["add_one"]["output"] == {"n": 11}
    events = (await client.get("/runs/r1/history")).json()["events"]
    assert events[0]["type"] == "run_started"
    assert events[-1]["type"] == "run_completed"
    # The same run id starts once.
    again = await client.post(
        "/runs", json={"blueprint": "demo", "input": {"n": 1}, "run_id": "r1"}
    )
    assert again.json() == {"run_id": "r1"}
    assert len((await client.get("/runs/r1/history")).json()["events"]) == len(events)


async def test_a_blueprint_in_yaml_is_shown_with_its_graph(client: httpx.AsyncClient) -> None:
    r = await client.post("/blueprints", json={"yaml": yaml.safe_dump(BLUEPRINT)})
    assert r.status_code == 201
    listed = (await client.get("/blueprints")).json()["blueprints"]
    assert [(b["id"], b["version"], b["active"]) for b in listed] == [("demo", "1", True)]
    shown = (await client.get("/blueprints/demo/versions/1")).json()
    assert shown["document"]["nodes"][0]["id"] == "double"
    layers = {n["id"]: n["layer"] for n in shown["graph"]["nodes"]}
    assert layers == {"double": 0, "add_one": 1}
    assert shown["graph"]["edges"][0]["source"] == "double"
    assert (await client.get("/blueprints/demo")).json()["versions"][0]["version"] == "1"


async def test_a_deactivated_version_starts_no_run(client: httpx.AsyncClient) -> None:
    await client.post("/blueprints", json=BLUEPRINT)
    r = await client.post("/blueprints/demo/versions/1/deactivate")
    assert r.json() == {"id": "demo", "version": "1", "active": False}
    r = await client.post("/runs", json={"blueprint": "demo", "input": {"n": 1}, "run_id": "x"})
    assert r.status_code == 409 and error_code(r) == "blueprint_inactive"
    assert error_code(await client.get("/runs/x")) == "run_not_found"
    await client.post("/blueprints/demo/versions/1/activate")
    r = await client.post("/runs", json={"blueprint": "demo", "input": {"n": 1}, "run_id": "x"})
    assert r.status_code == 201


async def test_a_failed_step_shows_its_error(client: httpx.AsyncClient) -> None:
    await client.post("/blueprints", json=FAILING)
    rid = (await client.post("/runs", json={"blueprint": "failing", "input": {"n": 2}})).json()
    run = await wait_ended(client, rid["run_id"])
    assert run["status"] == "failed" and run["nodes"]["explode"] == "failed"
    steps = {
        s["step_id"]: s for s in (await client.get(f"/runs/{rid['run_id']}/steps")).json()["steps"]
    }
    assert "db down for n=4" in steps["explode"]["error"]
    assert steps["explode"]["input"] == {"n": 4}
    (failure,) = steps["explode"]["failures"]
    assert failure["attempt"] == 1 and failure["error_type"] == "NonRetryableError"
    assert "in explode" in failure["traceback"]  # the node's own frame


async def test_signal_and_cancel(client: httpx.AsyncClient) -> None:
    await client.post("/blueprints", json=WAITING)
    a = (await client.post("/runs", json={"blueprint": "waiting", "input": {"n": 1}})).json()
    r = await client.post(
        f"/runs/{a['run_id']}/signal", json={"name": "approval", "data": {"n": 41}}
    )
    assert r.json() == {"run_id": a["run_id"], "signal": "approval", "kept": True}
    run = await wait_ended(client, a["run_id"])
    assert run["status"] == "completed"
    steps = {
        s["step_id"]: s for s in (await client.get(f"/runs/{a['run_id']}/steps")).json()["steps"]
    }
    assert steps["add_one"]["output"] == {"n": 42}
    b = (await client.post("/runs", json={"blueprint": "waiting", "input": {"n": 1}})).json()
    r = await client.post(f"/runs/{b['run_id']}/cancel", json={"reason": "no longer needed"})
    assert r.json() == {"run_id": b["run_id"], "cancelled": True}
    assert (await client.get(f"/runs/{b['run_id']}")).json()["status"] == "cancelled"
    again = await client.post(f"/runs/{b['run_id']}/cancel")
    assert again.status_code == 409 and error_code(again) == "run_ended"
    late = await client.post(f"/runs/{b['run_id']}/signal", json={"name": "approval"})
    assert late.status_code == 409 and error_code(late) == "run_ended"


async def test_pause_resume_and_retry(client: httpx.AsyncClient) -> None:
    await client.post("/blueprints", json=WAITING)
    a = (await client.post("/runs", json={"blueprint": "waiting", "input": {"n": 1}})).json()
    rid = a["run_id"]
    r = await client.post(f"/runs/{rid}/pause", json={"reason": "maintenance"})
    assert r.status_code == 200 and r.json() == {"run_id": rid, "status": "paused"}
    assert (await client.get(f"/runs/{rid}")).json()["status"] == "paused"
    again = await client.post(f"/runs/{rid}/pause")
    assert again.status_code == 409 and error_code(again) == "run_state"
    # A paused run keeps a signal; it is taken once the run resumes.
    r = await client.post(f"/runs/{rid}/signal", json={"name": "approval", "data": {"n": 1}})
    assert r.status_code == 200 and r.json()["kept"] is True
    await asyncio.sleep(0.2)
    assert (await client.get(f"/runs/{rid}")).json()["status"] == "paused"
    r = await client.post(f"/runs/{rid}/resume")
    assert r.status_code == 200 and r.json()["status"] == "running"
    assert (await wait_ended(client, rid))["status"] == "completed"
    r = await client.post(f"/runs/{rid}/resume")
    assert r.status_code == 409 and error_code(r) == "run_state"
    r = await client.post(f"/runs/{rid}/retry")  # completed: nothing to retry
    assert r.status_code == 409 and error_code(r) == "run_state"
    await client.post("/blueprints", json=FAILING)
    f = (await client.post("/runs", json={"blueprint": "failing", "input": {"n": 2}})).json()
    assert (await wait_ended(client, f["run_id"]))["status"] == "failed"
    r = await client.post(f"/runs/{f['run_id']}/retry", json={"from_step": 7})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = await client.post(f"/runs/{f['run_id']}/retry")
    assert r.status_code == 200 and r.json()["reset"] == ["explode"], r.json()
    assert (await wait_ended(client, f["run_id"]))["status"] == "failed"  # explodes again
    r = await client.post("/runs/nope/pause")
    assert r.status_code == 404 and error_code(r) == "run_not_found"


async def test_unknown_things_are_404_with_a_code(client: httpx.AsyncClient) -> None:
    for path, code in (
        ("/runs/nope", "run_not_found"),
        ("/runs/nope/steps", "run_not_found"),
        ("/runs/nope/history", "run_not_found"),
        ("/blueprints/nope", "blueprint_not_found"),
        ("/blueprints/nope/versions/1", "blueprint_not_found"),
        ("/no/such/path", "not_found"),
    ):
        r = await client.get(path)
        assert r.status_code == 404 and error_code(r) == code, path
    r = await client.post("/runs/nope/cancel")
    assert r.status_code == 404 and error_code(r) == "run_not_found"
    r = await client.post("/runs", json={"blueprint": "nope"})
    assert r.status_code == 404 and error_code(r) == "blueprint_not_found"
    r = await client.delete("/runs")
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"


async def test_bad_bodies_are_refused_and_change_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post("/blueprints", content=b'{"id": "demo", ')
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    r = await client.post("/runs", content=b"[1, 2")
    assert r.status_code == 400 and error_code(r) == "malformed_json"
    big = {**BLUEPRINT, "metadata": {"pad": "x" * (70 * 1024)}}  # over the 64 KiB limit
    r = await client.post("/blueprints", json=big)
    assert r.status_code == 413 and error_code(r) == "body_too_large"

    async def chunks() -> Any:  # no Content-Length: the limit holds while reading
        for _ in range(100):
            yield b" " * 1024

    r = await client.post("/blueprints", content=chunks())
    assert r.status_code == 413 and error_code(r) == "body_too_large"
    r = await client.post("/runs", json={"blueprint": 3})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = await client.post("/runs", json=["start_run"])
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    bad = {
        "id": "bad",
        "version": "1",
        "nodes": [{"id": "a", "uses": "no.such:thing"}],
        "edges": [{"source": "a", "target": "ghost"}],
    }
    r = await client.post("/blueprints", json=bad)
    assert r.status_code == 422 and error_code(r) == "invalid_blueprint"
    problems = r.json()["error"]["problems"]
    assert len(problems) == 2 and any("ghost" in p for p in problems)
    r = await client.post("/blueprints", json={"yaml": "id: [unclosed"})
    assert r.status_code == 422 and error_code(r) == "invalid_blueprint"
    assert (await client.get("/blueprints")).json() == {"blueprints": []}


async def test_every_request_needs_the_token(guarded: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        for method, path in (
            ("GET", "/blueprints"),
            ("POST", "/blueprints"),
            ("GET", "/openapi.json"),
            ("GET", "/runs/r1"),
            ("GET", "/no/such/path"),
        ):
            r = await guarded.request(method, path, headers=headers, json=BLUEPRINT)
            assert r.status_code == 401 and error_code(r) == "unauthorized", (headers, path)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in r.text
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert (await guarded.get("/blueprints", headers=ok)).json() == {"blueprints": []}
    assert (await guarded.post("/blueprints", json=BLUEPRINT, headers=ok)).status_code == 201


async def test_workers_lists_the_embedded_worker(client: httpx.AsyncClient, api: Any) -> None:
    workers = (await client.get("/workers")).json()["workers"]
    assert len(workers) == 1
    (w,) = workers
    assert w["queues"] == ["embedded"] and w["concurrency"] == 16 and w["in_flight"] == 0
    assert w["heartbeat_at"] > 0 and w["pid"] > 0


async def test_the_openapi_document_names_every_route(client: httpx.AsyncClient, api: Any) -> None:
    from starlette.routing import Route

    from legato.server.app import create_app

    served = (await client.get("/openapi.json")).json()
    assert served["openapi"].startswith("3.1")
    assert served == msgspec.json.decode(msgspec.json.encode(openapi_document()))
    documented = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    routed = {
        (method, route.path.removeprefix("/api/v1"))
        for route in create_app(api).app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1")
        for method in (route.methods or ()) - {"HEAD"}
    }
    assert documented == routed
    assert set(served["components"]["schemas"]) >= {"RunHeader", "StartRun", "WorkerInfo", "Error"}


async def test_runs_are_listed_newest_first_with_filters_and_pages(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/blueprints", json=BLUEPRINT)
    await client.post("/blueprints", json=FAILING)
    for i in range(3):
        await client.post("/runs", json={"blueprint": "demo", "input": {"n": i}, "run_id": f"d{i}"})
        await wait_ended(client, f"d{i}")
    await client.post("/runs", json={"blueprint": "failing", "input": {"n": 1}, "run_id": "f0"})
    await wait_ended(client, "f0")
    every = (await client.get("/runs")).json()
    assert [r["run_id"] for r in every["runs"]] == ["f0", "d2", "d1", "d0"]
    assert every["cursor"] is None
    assert every["runs"][0]["status"] == "failed" and every["runs"][0]["ended_at"]
    demo = (await client.get("/runs", params={"blueprint": "demo", "limit": 2})).json()
    assert [r["run_id"] for r in demo["runs"]] == ["d2", "d1"] and demo["cursor"]
    rest = await client.get("/runs", params={"blueprint": "demo", "cursor": demo["cursor"]})
    assert [r["run_id"] for r in rest.json()["runs"]] == ["d0"]
    failed = (await client.get("/runs", params={"status": "failed", "since": "1h"})).json()
    assert [r["run_id"] for r in failed["runs"]] == ["f0"]
    assert (await client.get("/runs", params={"until": "1h"})).json()["runs"] == []
    for bad in (
        {"status": "sleeping"},
        {"limit": "0"},
        {"limit": "x"},
        {"since": "yesterday"},
        {"cursor": "garbage"},
    ):
        r = await client.get("/runs", params=bad)
        assert r.status_code == 400 and error_code(r) == "invalid_request", bad
    status = (await client.get("/status")).json()
    assert status["counts"] == {"running": 0, "completed": 3, "failed": 1, "cancelled": 0}
    assert status["capped"] == [] and status["active_runs"] == []
    assert status["consumer_lag"] is None  # embedded: no consumer group


async def test_status_lists_active_runs(client: httpx.AsyncClient) -> None:
    await client.post("/blueprints", json=WAITING)
    await client.post("/runs", json={"blueprint": "waiting", "input": {"n": 1}, "run_id": "w"})
    status = (await client.get("/status")).json()
    assert status["counts"]["running"] == 1
    assert [h["run_id"] for h in status["active_runs"]] == ["w"]


async def test_schedules_are_added_listed_paused_resumed_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/blueprints", json=BLUEPRINT)
    hourly = {"name": "hourly", "blueprint": "demo", "cron": "0 * * * *", "input": {"n": 1}}
    r = await client.post("/schedules", json=hourly)
    assert r.status_code == 201 and r.json()["schedule"] == "hourly"
    nxt = r.json()["next"]
    assert nxt > time.time() and nxt % 3600 == 0
    (listed,) = (await client.get("/schedules")).json()["schedules"]
    assert listed["name"] == "hourly" and listed["next"] == nxt and listed["paused"] is False
    assert listed["input"] == {"n": 1} and listed["version"] == "1"
    assert listed["timezone"] == "UTC" and listed["catch_up"] == "skip"

    assert (await client.post("/schedules/hourly/pause")).json()["paused"] is True
    (listed,) = (await client.get("/schedules")).json()["schedules"]
    assert listed["paused"] is True and listed["next"] is None
    assert (await client.post("/schedules/hourly/resume")).json()["next"] == nxt

    bad = {**hourly, "name": "bad", "cron": "61 * * * *"}
    r = await client.post("/schedules", json=bad)
    assert r.status_code == 400 and error_code(r) == "invalid_schedule"
    r = await client.post("/schedules", json={**hourly, "name": "nobp", "blueprint": "nope"})
    assert r.status_code == 400 and error_code(r) == "invalid_schedule"
    r = await client.post("/schedules", json={"name": "x"})
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    r = await client.post("/schedules/nope/pause")
    assert r.status_code == 404 and error_code(r) == "schedule_not_found"

    assert (await client.delete("/schedules/hourly")).json()["deleted"] is True
    assert (await client.get("/schedules")).json() == {"schedules": []}
    r = await client.delete("/schedules/hourly")
    assert r.status_code == 404 and error_code(r) == "schedule_not_found"
