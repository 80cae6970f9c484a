"""Signal queues (and run control) on the real history and coordination (Cassandra
RunStore, Redis Coordinator; jobs and timers in memory): the same as embedded."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

import legato
from legato.adapters.memory import MemoryJobBus, MemoryTimers, memory_backend
from legato.runtime import cron
from legato.runtime.engine import Backend
from legato.runtime.errors import RunStateError
from legato.schemas import RunRetried, SignalReceived, StepCompleted, StepWaiting
from tests.unit.test_signal_queue import rework_loop

pytestmark = pytest.mark.integration


@pytest.fixture
async def real_backend(
    cassandra_session: Any, cassandra_keyspace: str, redis_url: str, unique_name: Any
) -> AsyncIterator[Backend]:
    from legato.adapters.cassandra.store import CassandraRunStore
    from legato.adapters.redis import RedisCoordinator

    store = await CassandraRunStore.open(cassandra_session, cassandra_keyspace)
    coordinator = RedisCoordinator.from_url(redis_url, prefix=unique_name("ctl") + ":")
    bus = MemoryJobBus()
    yield Backend(store, store, coordinator, bus, MemoryTimers(bus))
    await coordinator.close()


async def _rework(backend: Backend) -> tuple[legato.RunResult, list[Any]]:
    async with legato.Engine(backend) as engine:
        rid = await engine.start(rework_loop(), None)
        for verdict in (False, False, True):  # sent before any wait
            assert await engine.signal(rid, "approval", {"ok": verdict})
        assert await engine.signal(rid, "approval", {"ok": True}, dedupe="x")
        assert not await engine.signal(rid, "approval", {"ok": True}, dedupe="x")
        engine.start_workers()
        result = await engine.wait(rid, timeout=30)
        return result, await engine.history(rid)


async def test_signal_queue_matches_embedded(real_backend: Backend) -> None:
    expected, _ = await _rework(memory_backend())
    got, history = await _rework(real_backend)
    assert expected.status == "completed"
    assert (got.status, got.outputs) == (expected.status, expected.outputs)
    ids = [e.id for e in history if isinstance(e, SignalReceived)]
    consumed = {
        e.signal_id: e.step_id
        for e in history
        if isinstance(e, StepCompleted) and e.signal_id is not None
    }
    assert consumed == {ids[0]: "review#0", ids[1]: "review#1", ids[2]: "review#2"}
    assert await real_backend.store.next_signal(got.run_id, "approval") == (ids[3], {"ok": True})


def _cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    from tests.integration.test_distributed_cli import env_for

    return subprocess.run(
        [sys.executable, "-m", "legato", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(settings),
    )


async def _until(check: Any) -> None:
    for _ in range(3000):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_pause_and_resume_distributed_cli_and_commands(dist_settings: Any) -> None:
    from legato.adapters import open_backend
    from legato.commands import handle_command
    from legato.schemas.commands import PauseRun, ResumeRun, SendSignal

    reg = legato.compile(
        {
            "id": "pausable",
            "nodes": [
                {"id": "first", "uses": "legato.wait_for_signal", "params": {"signal": "go"}},
                {"id": "after", "uses": "legato.sleep", "params": {"seconds": 0}},
            ],
            "edges": [{"source": "first", "target": "after"}],
        }
    )
    dist = await open_backend(dist_settings)
    worker = legato.Engine(dist)
    worker.start_workers()
    try:
        async with await legato.Client.connect(dist_settings) as client:
            rid = await client.start(reg, None)

            async def waiting() -> bool:
                return any(isinstance(e, StepWaiting) for e in await client.history(rid))

            await _until(waiting)
            paused = await asyncio.to_thread(_cli, dist_settings, "pause", rid, "--reason", "x")
            assert paused.returncode == 0, paused.stderr
            assert (await client.status(rid)).status == "paused"
            again = await asyncio.to_thread(_cli, dist_settings, "pause", rid)
            assert again.returncode == 1 and "cannot be paused" in again.stderr
            assert "Traceback" not in again.stderr
            await handle_command(client.control, SendSignal(rid, "go", "yes", id="c1"))
            await handle_command(client.control, SendSignal(rid, "go", "yes", id="c1"))

            async def held() -> bool:
                return bool(await dist.store.held_jobs(rid))

            await _until(held)  # the woken wait is held, not run
            assert "first" not in await dist.store.all_steps(rid)
            resumed = await asyncio.to_thread(_cli, dist_settings, "resume", rid)
            assert resumed.returncode == 0, resumed.stderr
            result = await client.wait(rid, timeout=60)
            assert result.outputs == {"first": "yes", "after": "yes"}
            refused = await asyncio.to_thread(_cli, dist_settings, "resume", rid)
            assert refused.returncode == 1 and "not paused" in refused.stderr
            unknown = await asyncio.to_thread(_cli, dist_settings, "pause", "no-such-run")
            assert unknown.returncode == 1 and "does not exist" in unknown.stderr
            # The commands too: pause and resume a second run.
            rid2 = await client.start(reg, None)
            await handle_command(client.control, PauseRun(rid2, "by command"))
            assert (await client.status(rid2)).status == "paused"
            await handle_command(client.control, ResumeRun(rid2))
            assert await client.signal(rid2, "go", 2)
            assert (await client.wait(rid2, timeout=60)).outputs["after"] == 2
            history = await client.history(rid)
            signals = [e for e in history if isinstance(e, SignalReceived)]
            assert len(signals) == 1  # the duplicate command kept one signal
    finally:
        await worker.close()
        await dist.close()


FLAKY: set[str] = set()


async def _fails_while_flagged(ctx: legato.StepContext) -> Any:
    if "broken" in FLAKY:
        raise legato.NonRetryableError("broken for now")
    return f"ok {ctx.input}"


async def test_retry_distributed_cli_and_command(dist_settings: Any) -> None:
    from legato.adapters import open_backend
    from legato.commands import handle_command
    from legato.schemas.commands import RetryRun

    flow = (
        legato.Flow("retry_me")
        .node("a", _fails_while_flagged)
        .node("b", _fails_while_flagged)
        .edge("a", "b")
    )
    reg = legato.compile(flow)
    dist = await open_backend(dist_settings)
    worker = legato.Engine(dist)
    await worker.register(reg)
    worker.start_workers()
    try:
        async with await legato.Client.connect(dist_settings) as client:
            FLAKY.add("broken")
            rid = await client.start("retry_me", 1)
            assert (await client.wait(rid, timeout=60)).status == "failed"
            unknown = await asyncio.to_thread(_cli, dist_settings, "retry", rid, "--from", "zz")
            assert unknown.returncode == 1 and "no such node" in unknown.stderr
            FLAKY.clear()
            done = await asyncio.to_thread(_cli, dist_settings, "retry", rid)
            assert done.returncode == 0, done.stderr
            result = await client.wait(rid, timeout=60)
            assert result.outputs == {"a": "ok 1", "b": "ok ok 1"}
            again = await asyncio.to_thread(_cli, dist_settings, "retry", rid)
            assert again.returncode == 1 and "only a failed or cancelled" in again.stderr
            # By command (refused for a completed run; from a step for a failed one).
            with pytest.raises(RunStateError):
                await handle_command(client.control, RetryRun(rid, "b"))
            FLAKY.add("broken")
            rid2 = await client.start("retry_me", 2)
            assert (await client.wait(rid2, timeout=60)).status == "failed"
            FLAKY.clear()
            await handle_command(client.control, RetryRun(rid2, "a"))
            result = await client.wait(rid2, timeout=60)
            assert result.outputs == {"a": "ok 2", "b": "ok ok 2"}
            retried = [e for e in await client.history(rid2) if isinstance(e, RunRetried)]
            assert [(e.from_step, e.reset) for e in retried] == [("a", ("a",))]
    finally:
        await worker.close()
        await dist.close()


async def test_events_distributed_cli_and_commands(dist_settings: Any) -> None:
    from legato.adapters import open_backend
    from legato.commands import handle_command
    from legato.schemas.commands import PublishEvent
    from tests.unit.test_events import NODES

    reg = legato.compile(
        {
            "id": "awaits_payment",
            "nodes": [
                {
                    "id": "paid",
                    "uses": "legato.wait_for_event",
                    "params": {"event": "payment", "key": "input.order"},
                },
                {"id": "ship", "uses": "echo"},
            ],
            "edges": [{"source": "paid", "target": "ship"}],
        },
        NODES,
    )
    dist = await open_backend(dist_settings)
    worker = legato.Engine(dist)
    await worker.register(reg)
    worker.start_workers()
    order = f"o-{id(reg)}"
    try:
        async with await legato.Client.connect(dist_settings) as client:
            runs = [await client.start("awaits_payment", {"order": order}) for _ in range(3)]

            async def all_waiting() -> bool:
                return len(await dist.store.event_waiters("payment", order)) == 3

            await _until(all_waiting)
            out = await asyncio.to_thread(
                _cli,
                dist_settings,
                "publish",
                "payment",
                "--key",
                order,
                "--data",
                '{"eur": 5}',
                "--retain",
                "10m",
            )
            assert out.returncode == 0, out.stderr
            assert json.loads(out.stdout)["delivered"] == 3
            for rid in runs:
                assert (await client.wait(rid, timeout=60)).outputs["ship"] == {"eur": 5}
            late = await client.start("awaits_payment", {"order": order})  # within retain
            assert (await client.wait(late, timeout=60)).outputs["ship"] == {"eur": 5}
            # The command, redelivered with its id: delivered once.
            other = await client.start("awaits_payment", {"order": order + "-b"})

            async def waiting() -> bool:
                return bool(await dist.store.event_waiters("payment", order + "-b"))

            await _until(waiting)
            for _ in range(2):
                await handle_command(
                    client.control, PublishEvent("payment", order + "-b", 7, id="evt-b")
                )
            assert (await client.wait(other, timeout=60)).outputs["paid"] == 7
            received = [e for e in await client.history(other) if isinstance(e, SignalReceived)]
            assert len(received) == 1
            bad = await asyncio.to_thread(
                _cli, dist_settings, "publish", "payment", "--key", "k", "--data", "{nope"
            )
            assert bad.returncode == 2 and "not valid JSON" in bad.stderr
    finally:
        await worker.close()
        await dist.close()


async def test_a_schedule_on_two_workers_starts_one_run_per_tick(dist_settings: Any) -> None:
    from legato.adapters import open_backend
    from legato.schemas import RunStarted

    reg = legato.compile(
        {"id": "ticked", "nodes": [{"id": "nap", "uses": "legato.sleep", "params": {"seconds": 0}}]}
    )
    backends = [await open_backend(dist_settings) for _ in range(2)]
    workers = [legato.Engine(b) for b in backends]
    for w in workers:
        await w.register(reg)
        w.start_workers()
    name = f"every-second-{id(reg)}"
    try:
        async with await legato.Client.connect(dist_settings) as client:
            out = await asyncio.to_thread(
                _cli,
                dist_settings,
                "schedule",
                "add",
                name,
                "--blueprint",
                "ticked",
                "--cron",
                "* * * * * *",
                "--input",
                '{"n": 1}',
                "--catch-up",
                "skip",
            )
            assert out.returncode == 0, out.stderr
            first = json.loads(out.stdout)["next"]
            tick0 = datetime.fromisoformat(first).timestamp()

            async def three_ticks() -> bool:
                ids = [cron.run_id(name, tick0 + i) for i in range(3)]
                return all([await client.backend.store.get_run(r) is not None for r in ids])

            await _until(three_ticks)
            listed = await asyncio.to_thread(_cli, dist_settings, "schedule", "list")
            assert name in listed.stdout
            deleted = await asyncio.to_thread(_cli, dist_settings, "schedule", "delete", name)
            assert deleted.returncode == 0, deleted.stderr
            again = await asyncio.to_thread(_cli, dist_settings, "schedule", "delete", name)
            assert again.returncode == 1 and "no schedule" in again.stderr
            bad = await asyncio.to_thread(
                _cli,
                dist_settings,
                "schedule",
                "add",
                "x",
                "--blueprint",
                "ticked",
                "--cron",
                "* * *",
            )
            assert bad.returncode == 2 and "5 fields" in bad.stderr
            unknown = await asyncio.to_thread(
                _cli,
                dist_settings,
                "schedule",
                "add",
                "x",
                "--blueprint",
                "nope",
                "--cron",
                "* * * * *",
            )
            assert unknown.returncode == 1 and "not registered" in unknown.stderr
            for i in range(3):
                rid = cron.run_id(name, tick0 + i)
                result = await client.wait(rid, timeout=60)
                assert result.status == "completed"
                history = await client.history(rid)
                assert sum(isinstance(e, RunStarted) for e in history) == 1
                assert (await client.status(rid)).input == {"n": 1}
    finally:
        for w in workers:
            await w.close()
        for b in backends:
            await b.close()
