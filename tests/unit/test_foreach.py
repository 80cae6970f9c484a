"""Foreach nodes: one step per item (``node[i]``), output in item order, ``[]`` at
once, per-item retries, a failed item fails the node (or its fallback stands in),
``max_concurrency`` bounds the items in flight, and no item reads its siblings."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

import legato
import legato.testing
from legato.adapters.memory import MemoryRunStore
from legato.runtime.errors import BlueprintError
from legato.runtime.history import fold

FAST_RETRY = legato.Retry(max_attempts=2, initial_delay=0.0, jitter=0.0)


async def source(ctx: legato.StepContext) -> Any:
    return ctx.input


async def total(ctx: legato.StepContext) -> Any:
    return sum(ctx.input)


def flow(
    fn: Any, window: int | None = None, *, retry: legato.Retry | None = None, **kw: Any
) -> legato.Flow:
    fe: dict[str, Any] = {"items": "outputs.src"}
    if window is not None:
        fe["max_concurrency"] = window
    return (
        legato.Flow("fe")
        .node("src", source)
        .node("each", fn, foreach=fe, retry=retry, **kw)
        .node("total", total)
        .edge("src", "each")
        .edge("each", "total")
    )


@pytest.mark.parametrize("window", [None, 1, 3])
async def test_output_is_the_item_outputs_in_item_order(window: int | None) -> None:
    seen: list[tuple[str, int, Any]] = []

    async def square(ctx: legato.StepContext) -> int:
        seen.append((ctx.step_id, ctx.index, ctx.input))
        for _ in range(ctx.input % 3):  # items finish out of order
            await asyncio.sleep(0)
        return ctx.input * ctx.input

    items = list(range(10))
    result = await legato.run(flow(square, window), items, timeout=10)
    assert result.status == "completed", result.error
    assert result.outputs["each"] == [i * i for i in items]
    assert result.outputs["total"] == sum(i * i for i in items)
    assert sorted(seen) == sorted((f"each[{i}]", i, i) for i in items)
    assert result.outputs["each[4]"] == 16  # each item is a step of its own


async def test_an_empty_list_gives_an_empty_output_at_once() -> None:
    calls: list[int] = []

    async def never(ctx: legato.StepContext) -> int:
        calls.append(1)
        return 0

    result = await legato.run(flow(never, 2), [], timeout=10)
    assert result.status == "completed" and result.outputs["each"] == []
    assert result.outputs["total"] == 0 and calls == []


async def test_items_that_are_not_a_list_fail_the_step_clearly() -> None:
    result = await legato.run(flow(source), {"not": "a list"}, timeout=10)
    assert result.status == "failed"
    assert result.error == "step each failed: foreach items 'outputs.src' gave dict, not a list"


@pytest.mark.parametrize("window", [1, 3])
async def test_max_concurrency_bounds_the_items_in_flight(window: int) -> None:
    running, most = 0, 0

    async def slow(ctx: legato.StepContext) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        for _ in range(20):
            await asyncio.sleep(0)
        running -= 1
        return ctx.index

    async with legato.Engine(concurrency=16) as engine:
        result = await engine.run(legato.compile(flow(slow, window)), list(range(30)), timeout=10)
    assert result.status == "completed", result.error
    assert result.outputs["each"] == list(range(30))
    assert 1 <= most <= window


async def test_each_item_retries_on_its_own() -> None:
    attempts: Counter[int] = Counter()

    async def flaky(ctx: legato.StepContext) -> int:
        attempts[ctx.index] += 1
        if ctx.index in (1, 3) and ctx.attempt == 1:
            raise ConnectionError("transient")
        return ctx.attempt

    result = await legato.run(flow(flaky, 2, retry=FAST_RETRY), [0, 0, 0, 0, 0], timeout=10)
    assert result.status == "completed", result.error
    assert result.outputs["each"] == [1, 2, 1, 2, 1]
    assert attempts == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1}


async def test_a_failed_item_fails_the_node_and_the_run() -> None:
    async def bad(ctx: legato.StepContext) -> int:
        if ctx.index == 2:
            raise ValueError("no good")
        return 1

    result = await legato.run(flow(bad, 2, retry=FAST_RETRY), [0] * 5, timeout=10)
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("step each[2] failed: ")
    assert "no good" in result.error and "total" not in result.outputs


async def test_the_fallback_stands_in_for_the_whole_node() -> None:
    async def bad(ctx: legato.StepContext) -> int:
        if ctx.index == 1:
            raise legato.NonRetryableError("broken item")
        return 1

    async def instead(ctx: legato.StepContext) -> list[int]:
        assert ctx.error is not None and "broken item" in ctx.error
        return [len(ctx.input)]  # the node's own input: the whole list

    f = flow(bad, 1, fallback="instead").node("instead", instead)
    result = await legato.run(f, [5, 6, 7], timeout=10)
    assert result.status == "completed", result.error
    assert result.outputs["each"] == [3] and result.outputs["total"] == 3
    assert "each[2]" not in result.outputs  # the items after the failure stop


async def test_items_inside_a_loop_are_steps_of_their_iteration() -> None:
    async def grow(ctx: legato.StepContext) -> list[int]:
        return list(range(ctx.iteration + 1))

    async def mark(ctx: legato.StepContext) -> str:
        return ctx.step_id

    f = (
        legato.Flow("fel")
        .node("grow", grow)
        .node("each", mark, foreach={"items": "outputs.grow"})
        .edge("grow", "each")
        .edge("each", "grow", loop=True, condition="iteration < 2")
    )
    result = await legato.run(f, None, timeout=10)
    assert result.status == "completed", result.error
    assert result.outputs["each#1"] == ["each#1[0]", "each#1[1]"]
    assert result.outputs["each"] == ["each#2[0]", "each#2[1]", "each#2[2]"]


async def test_redelivered_and_repeated_jobs_run_each_item_once() -> None:
    calls: Counter[str] = Counter()

    async def count(ctx: legato.StepContext) -> int:
        calls[ctx.step_id] += 1
        return ctx.index * 10

    engine = legato.Engine(legato.testing.backend())
    reg = legato.compile(flow(count, 2))
    rid = await engine.start(reg, [1, 2, 3, 4, 5])
    pump = legato.testing.Pump(engine)
    handled: list[Any] = []
    while pump.collect():
        handled.append(await pump.step(len(pump.queue) - 1))  # newest first
        for job in handled:  # and every job so far again
            await pump.handle(job)
    header = await engine.status(rid)
    result = await engine.result(header)
    history = await engine.backend.store.history(rid)
    await engine.close()
    assert result.status == "completed", result.error
    assert result.outputs["each"] == [0, 10, 20, 30, 40]
    assert calls == {f"each[{i}]": 1 for i in range(5)}
    assert fold(history, reg).outputs == result.outputs


class CountingStore(MemoryRunStore):
    """Counts the records and items read (what a step's cost grows with)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.widest = 0

    async def get_steps(self, run_id: str, step_ids: Any) -> Any:
        self.reads += len(step_ids)
        self.widest = max(self.widest, len(step_ids))
        return await super().get_steps(run_id, step_ids)

    async def read_step(
        self, run_id: str, step_id: str, inputs: Any, *, claim: int | None = None
    ) -> Any:
        self.reads += 1 + len(inputs)
        self.widest = max(self.widest, len(inputs))
        return await super().read_step(run_id, step_id, inputs, claim=claim)

    async def get_items(self, run_id: str, step_id: str, start: int, stop: int) -> Any:
        self.reads += stop - start
        self.widest = max(self.widest, stop - start)
        return await super().get_items(run_id, step_id, start, stop)


async def reads_per_item(count: int) -> tuple[float, int]:
    async def one(ctx: legato.StepContext) -> int:
        return 1

    store = CountingStore()
    async with legato.Engine(legato.testing.backend(store=store)) as engine:
        result = await engine.run(legato.compile(flow(one, 64)), [0] * count, timeout=60)
    assert result.status == "completed" and len(result.outputs["each"]) == count
    return store.reads / count, store.widest


async def test_per_item_cost_is_flat() -> None:
    small, _ = await reads_per_item(100)
    large, widest = await reads_per_item(3000)
    assert large <= small * 1.3, (small, large)  # records read per item, not seconds
    assert widest <= 500  # the node's output is read in pages; no step reads every item


async def test_a_list_over_the_size_limit_fails_the_run_clearly() -> None:
    async def big(ctx: legato.StepContext) -> str:
        return "x" * 300_000

    async with legato.Engine(limits=legato.Limits(output_bytes=1 << 20)) as engine:
        result = await engine.run(legato.compile(flow(big, 2)), [0] * 5, timeout=10)
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("step each failed: ")
    assert "over the limit of 1048576 bytes" in result.error


def problems(f: legato.Flow) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as err:
        legato.compile(f)
    return [(p.path, p.message) for p in err.value.problems]


def test_foreach_problems_are_listed_together() -> None:
    f = (
        legato.Flow("bad")
        .node("a", source)
        .node("b", source)
        .node("zero", source, foreach={"items": "outputs.a", "max_concurrency": 0})
        .node("anyj", source, foreach={"items": "[1]"}, join="any")
        .node("syntax", source, foreach={"items": "outputs.a +"})
        .node("nowhere", source, foreach={"items": "outputs.nope"})
        .node("both", source, foreach={"items": "[1]"}, inputs="input")
        .node("extra", source, foreach={"items": "[1]", "stream": True})
        .node("after", source)
        .edge("a", "zero")
        .edge("a", "anyj")
        .edge("b", "anyj")
        .edge("a", "syntax")
        .edge("a", "nowhere")
        .edge("a", "both")
        .edge("a", "extra")
        .edge("zero", "after", condition="context.k == 1")
    )
    got = problems(f)
    paths = [p for p, _ in got]
    assert (
        "nodes[2].config.foreach.max_concurrency",
        "must be at least 1 (omit it for no bound)",
    ) in got
    assert any(p == "nodes[3].config.foreach" and "join: any" in m for p, m in got)
    assert any(p == "nodes[4].config.foreach.items" and "invalid expression" in m for p, m in got)
    assert ("nodes[5].inputs", "outputs.nope: unknown node") in got
    assert any(p == "nodes[6].config.foreach" and "inputs:" in m for p, m in got)
    assert "nodes[7].config.foreach.stream" in paths
    assert any(p == "nodes[2].config.foreach" and "`context`" in m for p, m in got)
    assert len(got) == 7, got


@pytest.mark.parametrize("lost_after", ["each", "each[2]"])
async def test_the_reconciler_resumes_lost_items_and_a_lost_gather(lost_after: str) -> None:
    from legato.adapters.memory import MemoryCoordinator
    from legato.reconciler import Reconciler

    calls: Counter[str] = Counter()

    async def count(ctx: legato.StepContext) -> int:
        calls[ctx.step_id] += 1
        return ctx.index * 10

    coordinator = MemoryCoordinator()
    backend = legato.testing.backend(coordinator=coordinator)
    engine = legato.Engine(backend)
    reg = legato.compile(flow(count, 2))
    rid = await engine.start(reg, [1, 2, 3, 4, 5])
    pump = legato.testing.Pump(engine)
    while pump.collect():  # the jobs published by or after `lost_after` are lost
        job = await pump.step(0)
        if job.step_id == lost_after:
            pump.collect().clear()
    assert (await engine.status(rid)).status == "running"
    await coordinator.forget_run(rid)  # and the coordinator lost the items' join
    reconciler = Reconciler(backend, stalled_after=0)
    for _ in range(5):
        await reconciler.run_once()
        await pump.run()
    result = await engine.result(await engine.status(rid))
    await engine.close()
    assert result.status == "completed", result.error
    assert result.outputs["each"] == [0, 10, 20, 30, 40]
    assert result.outputs["total"] == 100
    assert calls == {f"each[{i}]": 1 for i in range(5)}


def test_the_reconciler_holds_a_gather_to_the_configured_output_limit() -> None:
    from legato.reconciler import Reconciler
    from legato.reconciler.repair import RepairWatch

    backend = legato.testing.backend()
    limits = legato.Limits(output_bytes=1234)
    reconciler = Reconciler(backend, stalled_after=0, limits=limits)
    assert reconciler.resumer.fanout.max_value_bytes == 1234
    repair = RepairWatch(backend, reconciler.resumer.ending, delay=0, limits=limits)
    assert repair.reconciler.resumer.fanout.max_value_bytes == 1234
