"""The REST API on the real servers, and the same answers embedded: a run started
through the API is worked by a distributed worker, which the API lists with its
heartbeat; `legato server` as a process against the deployment, with a token."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import legato
from legato.adapters import open_backend
from legato.config import Settings
from legato.presence import Presence
from legato.server.app import create_app
from legato.server.serve import ServerOptions, open_api
from tests.integration.test_distributed_cli import env_for
from tests.server.demo_nodes import BLUEPRINT, FAILING
from tests.server.test_browser import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


EXPECTED: dict[str, Any] = {}  # the first deployment's answers, that the second must give


@pytest.fixture(params=["embedded", "distributed"])
async def deployment(
    request: pytest.FixtureRequest, dist_settings: Settings
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = dist_settings if request.param == "distributed" else Settings()
    EXPECTED["kafka"] = dist_settings.kafka
    async with open_api(settings, ServerOptions()) as api:
        transport = httpx.ASGITransport(app=create_app(api))
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as client:
            if request.param == "embedded":
                yield request.param, client
                return
            backend = await open_backend(dist_settings)
            engine = legato.Engine(backend, concurrency=4, owns_backend=True)
            engine.start_workers()
            presence = Presence(backend.coordinator, engine.worker, ("jobs",), interval=0.5)
            presence.start()
            try:
                yield request.param, client
            finally:
                await presence.stop()
                await engine.close()


async def ended(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        run = (await client.get(f"/runs/{run_id}")).json()
        if run["ended"]:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def comparable(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drop = {"started_at", "ended_at"}
    return [
        {
            **{k: v for k, v in s.items() if k not in drop},
            "failures": [{k: v for k, v in f.items() if k != "at"} for f in s["failures"]],
        }
        for s in steps
    ]


async def test_the_api_answers_alike_embedded_and_distributed(
    deployment: tuple[str, httpx.AsyncClient], unique_name: Any
) -> None:
    mode, client = deployment
    suffix = unique_name("bp")
    answers = []
    for doc, n in ((BLUEPRINT, 5), (FAILING, 2)):
        bp = {**doc, "id": f"{doc['id']}_{suffix}"}
        assert (await client.post("/blueprints", json=bp)).status_code == 201
        made = await client.post("/runs", json={"blueprint": bp["id"], "input": {"n": n}})
        rid = made.json()["run_id"]
        run = await ended(client, rid)
        steps = (await client.get(f"/runs/{rid}/steps")).json()["steps"]
        events = (await client.get(f"/runs/{rid}/history")).json()["events"]
        listed = (await client.get("/runs", params={"blueprint": bp["id"]})).json()["runs"]
        assert [r["run_id"] for r in listed] == [rid]
        answers.append(
            (run["status"], run["nodes"], comparable(steps), [e["type"] for e in events])
        )
    assert answers[0][0] == "completed" and answers[1][0] == "failed"
    assert answers == EXPECTED.setdefault("answers", answers), mode
    versions = (await client.get(f"/blueprints/demo_{suffix}")).json()["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [("1", True)]
    await client.post(f"/blueprints/demo_{suffix}/versions/1/deactivate")
    refused = await client.post("/runs", json={"blueprint": f"demo_{suffix}"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "blueprint_inactive"

    workers = (await client.get("/workers")).json()["workers"]
    assert len(workers) == 1 and workers[0]["queues"] == (
        ["embedded"] if mode == "embedded" else ["jobs"]
    )
    status = (await client.get("/status")).json()
    assert status["counts"]["completed"] >= 1 and status["counts"]["failed"] >= 1
    if mode == "embedded":
        assert status["consumer_lag"] is None
    else:
        lag = status["consumer_lag"]
        kafka = EXPECTED["kafka"]
        assert set(lag) == {kafka.jobs_topic, kafka.commands_topic}
        jobs = lag[kafka.jobs_topic]
        assert len(jobs["partitions"]) == kafka.partitions
        assert set(jobs) == {"total", "partitions"} and jobs["total"] >= 0


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "legato", "server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_answering(proc: subprocess.Popen[bytes], base: str) -> None:
    for _ in range(600):
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=1)
        except urllib.error.HTTPError:
            return  # it answers (401: no token)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("legato server does not answer")


def call(url: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, method="POST" if body is not None else "GET")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_legato_server_and_legato_worker_processes(
    dist_settings: Settings, unique_name: Any
) -> None:
    """Both as a user runs them: the worker announces itself (its pid in the list)
    and works the run that the API started; the API needs the token throughout."""
    port, token = free_port(), unique_name("tok")
    env = {**env_for(dist_settings), "LEGATO_API_TOKEN": token}
    server = start_server(port, env)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "legato",
            "worker",
            "--import",
            "tests.server.demo_nodes",
            "--health-port",
            "0",
            "--concurrency",
            "4",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_answering(server, base)
        bp = {**BLUEPRINT, "id": unique_name("demo")}
        status, body = call(base + "/blueprints", None, bp)
        assert status == 401 and body["error"]["code"] == "unauthorized"
        assert call(base + "/blueprints", "wrong", bp)[0] == 401
        status, body = call(base + "/blueprints", token, bp)
        assert status == 201, body
        start = {"type": "start_run", "blueprint": bp["id"], "input": {"n": 20}}
        status, body = call(base + "/runs", token, start)
        assert status == 201, body
        rid = body["run_id"]
        for _ in range(600):
            run = call(f"{base}/runs/{rid}", token)[1]
            if run["ended"]:
                break
            time.sleep(0.1)
        assert run["status"] == "completed", run
        steps = {s["step_id"]: s for s in call(f"{base}/runs/{rid}/steps", token)[1]["steps"]}
        assert steps["add_one"]["output"] == {"n": 41}
        page = call(f"{base}/runs?blueprint={bp['id']}", token)[1]
        assert [r["run_id"] for r in page["runs"]] == [rid]
        for _ in range(100):
            mine = [
                w for w in call(base + "/workers", token)[1]["workers"] if w["pid"] == worker.pid
            ]
            if mine:
                break
            time.sleep(0.1)
        assert len(mine) == 1 and mine[0]["concurrency"] == 4
        assert dist_settings.kafka.jobs_topic in mine[0]["queues"]
        worker.terminate()
        assert worker.wait(60) == 0
        # A worker that stops leaves the list at once.
        assert not [
            w for w in call(base + "/workers", token)[1]["workers"] if w["pid"] == worker.pid
        ]
    finally:
        worker.kill() if worker.poll() is None else None
        server.terminate()
        output = server.stdout.read().decode() if server.stdout else ""
        assert server.wait(30) == 0, output
    assert token not in output
