"""Each defect found in Flowcraft's Kafka adapter, shown absent from Legato on the
distributed backend (Kafka jobs, Cassandra history, Redis joins)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import legato
from legato.schemas import RunFailed, StepCompleted

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(dist_settings: Any) -> AsyncIterator[legato.Engine]:
    from legato.adapters import open_backend

    dist = await open_backend(dist_settings)
    eng = legato.Engine(dist, concurrency=16)
    eng.start_workers()
    try:
        yield eng
    finally:
        await eng.close()
        await dist.close()


async def writer(ctx: legato.StepContext) -> str:
    await asyncio.sleep(0.05)  # the branches overlap
    ctx.context.set(f"by_{ctx.node_id}", ctx.node_id)
    ctx.context.set("shared", ctx.node_id)
    return ctx.node_id


async def gather(ctx: legato.StepContext) -> dict[str, Any]:
    return {k: await ctx.context.get(f"by_b{k}") for k in range(4)} | {
        "shared": await ctx.context.get("shared")
    }


async def test_parallel_context_updates_are_not_lost(engine: legato.Engine) -> None:
    flow = legato.Flow("ctx_parallel").node("a", writer).node("join", gather)
    for i in range(4):
        flow.node(f"b{i}", writer).edge("a", f"b{i}").edge(f"b{i}", "join")
    result = await engine.run(legato.compile(flow), None, timeout=60)
    assert result.outputs["join"] == {0: "b0", 1: "b1", 2: "b2", 3: "b3", "shared": "b3"}
    assert result.context["shared"] == "b3"  # the documented winner: latest in causal order
    writes = await engine.backend.store.get_context(result.run_id, ["shared"])
    assert {w.step_id for w in writes["shared"]} == {"a", "b0", "b1", "b2", "b3"}


async def one(ctx: legato.StepContext) -> int:
    return 1


async def test_a_redelivered_arrival_is_not_counted_twice(engine: legato.Engine) -> None:
    coord = engine.backend.coordinator
    from legato.runtime.ports import JoinDecision

    assert await coord.arrive("r-redeliver", "j", "b1", True, 2, "all") is JoinDecision.WAIT
    assert await coord.arrive("r-redeliver", "j", "b1", True, 2, "all") is JoinDecision.WAIT
    assert await coord.arrive("r-redeliver", "j", "b2", True, 2, "all") is JoinDecision.RUN


async def test_a_three_way_any_join_completes(engine: legato.Engine) -> None:
    flow = legato.Flow("any3").node("a", one).node("j", one, join="any")
    for i in range(3):
        flow.node(f"b{i}", one).edge("a", f"b{i}").edge(f"b{i}", "j")
    result = await engine.run(legato.compile(flow), None, timeout=60)
    assert result.status == "completed"
    assert set(result.outputs) == {"a", "b0", "b1", "b2", "j"}


async def test_untaken_conditional_branches_let_the_run_complete(engine: legato.Engine) -> None:
    flow = (
        legato.Flow("untaken")
        .node("a", one)
        .node("yes", one)
        .node("no", one)
        .node("after_no", one)
        .node("end", one)
        .edge("a", "yes", condition="output == 1")
        .edge("a", "no", condition="output == 2")
        .edge("no", "after_no")
        .edge("yes", "end")
        .edge("after_no", "end")
    )
    result = await engine.run(legato.compile(flow), None, timeout=60)
    assert result.status == "completed"
    assert set(result.outputs) == {"a", "yes", "end"}


async def nothing(ctx: legato.StepContext) -> None:
    return None


async def test_nodes_without_output_are_done(engine: legato.Engine) -> None:
    flow = legato.Flow("none").node("a", nothing).node("b", nothing).edge("a", "b")
    result = await engine.run(legato.compile(flow), None, timeout=60)
    assert result.status == "completed"
    assert result.outputs == {"a": None, "b": None}


async def test_a_job_for_an_unknown_version_is_not_lost(engine: legato.Engine) -> None:
    reg = legato.compile(legato.Flow("versioned", version="7").node("a", one))
    engine.redelivery_delay = 0.05
    rid = await engine.start(reg, None, register=False)  # no worker has version 7 yet
    await asyncio.sleep(0.5)
    assert (await engine.status(rid)).status == "running"  # kept, re-enqueued
    await engine.register(reg)  # now the worker has it
    result = await engine.wait(rid, timeout=60)
    assert result.outputs == {"a": 1}


async def slow(ctx: legato.StepContext) -> int:
    await asyncio.sleep(0.5)
    return 1


async def fail(ctx: legato.StepContext) -> int:
    raise legato.NonRetryableError("no")


async def test_a_failed_run_schedules_nothing_more(engine: legato.Engine) -> None:
    flow = (
        legato.Flow("failstop")
        .node("a", one)
        .node("bad", fail)
        .node("slow", slow)
        .node("after_slow", one)
        .edge("a", "bad")
        .edge("a", "slow")
        .edge("slow", "after_slow")
    )
    result = await engine.run(legato.compile(flow), None, timeout=60)
    await asyncio.sleep(1.0)  # the slow branch finishes meanwhile
    history = await engine.backend.store.history(result.run_id)
    assert result.status == "failed"
    assert any(isinstance(e, RunFailed) for e in history)
    assert not [e for e in history if isinstance(e, StepCompleted) and e.step_id == "after_slow"]


async def mutate(ctx: legato.StepContext) -> int:
    try:
        ctx.params["limit"] = 0  # type: ignore[index]
    except TypeError:
        return int(ctx.params["limit"])
    return -1


async def test_shared_blueprint_objects_cannot_be_mutated(engine: legato.Engine) -> None:
    reg = legato.compile(legato.Flow("frozen").node("a", mutate, params={"limit": 5}))
    first = await engine.run(reg, None, timeout=60)
    second = await engine.run(reg, None, timeout=60)
    assert first.outputs == second.outputs == {"a": 5}
    assert reg.blueprint.nodes[0].params == {"limit": 5}


async def big(ctx: legato.StepContext) -> str:
    return "x" * (2 << 20)


async def test_an_oversized_output_fails_its_step_clearly(engine: legato.Engine) -> None:
    result = await engine.run(legato.compile(legato.Flow("big").node("a", big)), None, timeout=60)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.startswith(
        "step a failed: output is 2097157 bytes, over the limit of 1048576 bytes"
    )
