"""Routing on the embedded engine: inputs, actions, CEL conditions and transforms,
fan-out, ``all``/``any`` joins and dead-path elimination."""

from __future__ import annotations

import asyncio
from typing import Any

import legato
from legato.schemas import StepSkipped


async def run(flow: legato.Flow, value: Any = None) -> legato.RunResult:
    async with legato.Engine() as engine:
        return await engine.run(legato.compile(flow), value, timeout=10)


class Seen:
    """Records the input each node received, and in which order nodes ran."""

    def __init__(self) -> None:
        self.inputs: dict[str, Any] = {}
        self.order: list[str] = []

    def node(self, output: Any = None, action: str | None = None, *, echo: bool = False) -> Any:
        async def fn(ctx: legato.StepContext) -> Any:
            self.inputs[ctx.step_id] = ctx.input
            self.order.append(ctx.step_id)
            value = ctx.input if echo else output
            return legato.Result(value, action) if action is not None else value

        return fn


async def add(ctx: legato.StepContext) -> int:
    return int(ctx.input) + int(ctx.params.get("n", 1))


async def test_a_linear_chain_passes_each_output_on() -> None:
    flow = legato.Flow("chain").node("a", add).node("b", add, params={"n": 10}).node("c", add)
    flow.edge("a", "b").edge("b", "c")
    result = await run(flow, 1)
    assert (result.status, result.error) == ("completed", None)
    assert result.outputs == {"a": 2, "b": 12, "c": 13}


async def test_actions_pick_edges_and_unconditional_edges_are_also_taken() -> None:
    seen = Seen()
    flow = (
        legato.Flow("actions")
        .node("p", seen.node("out", action="left"))
        .node("l", seen.node(echo=True))
        .node("r", seen.node(echo=True))
        .node("always", seen.node(echo=True))
        .edge("p", "l", action="left")
        .edge("p", "r", action="right")
        .edge("p", "always")
    )
    result = await run(flow)
    assert result.outputs == {"p": "out", "l": "out", "always": "out"}
    assert sorted(seen.order) == ["always", "l", "p"]


async def test_no_action_returned_takes_only_unconditional_edges() -> None:
    seen = Seen()
    flow = (
        legato.Flow("noaction")
        .node("p", seen.node(5))
        .node("l", seen.node(echo=True))
        .node("always", seen.node(echo=True))
        .edge("p", "l", action="left")
        .edge("p", "always")
    )
    result = await run(flow)
    assert result.outputs == {"p": 5, "always": 5}


async def test_conditions_and_transforms_read_output_input_and_context() -> None:
    async def src(ctx: legato.StepContext) -> dict[str, int]:
        ctx.context.set("limit", 4)
        return {"n": 5}

    seen = Seen()
    flow = (
        legato.Flow("cel")
        .node("s", src)
        .node("big", seen.node(echo=True))
        .node("small", seen.node(echo=True))
        .node("named", seen.node(echo=True))
        .edge("s", "big", condition="output.n > context.limit", transform="output.n * 2")
        .edge("s", "small", condition="output.n <= context.limit")
        .edge("s", "named", condition="input.go", transform="input.name + ':' + string(output.n)")
    )
    result = await run(flow, {"go": True, "name": "x"})
    assert result.outputs == {"s": {"n": 5}, "big": 10, "named": "x:5"}
    assert seen.inputs == {"big": 10, "named": "x:5"}
    assert result.context == {"limit": 4}


async def test_a_condition_that_is_not_a_bool_fails_the_run_clearly() -> None:
    flow = legato.Flow("nonbool").node("a", add).node("b", add).edge("a", "b", condition="output")
    result = await run(flow, 1)
    assert result.status == "failed"
    assert result.error == "step a failed: condition 'output' returned int, not a bool"


async def test_a_fan_out_runs_every_branch_with_the_same_input() -> None:
    seen = Seen()
    flow = legato.Flow("fan").node("s", seen.node(7))
    for i in range(5):
        flow.node(f"b{i}", seen.node(echo=True)).edge("s", f"b{i}")
    result = await run(flow)
    assert result.outputs == {"s": 7, **{f"b{i}": 7 for i in range(5)}}
    assert seen.order[0] == "s" and len(seen.order) == 6


async def test_an_all_join_gets_the_outputs_of_its_non_skipped_predecessors() -> None:
    seen = Seen()
    flow = (
        legato.Flow("join")
        .node("s", seen.node(1, action="go"))
        .node("a", seen.node("A"))
        .node("b", seen.node("B"))
        .node("c", seen.node("C"))
        .node("j", seen.node(echo=True))
        .edge("s", "a", action="go")
        .edge("s", "b", action="go")
        .edge("s", "c", action="stop")
        .edge("a", "j")
        .edge("b", "j")
        .edge("c", "j")
    )
    result = await run(flow)
    assert seen.inputs["j"] == {"a": "A", "b": "B"}
    assert result.outputs == {"s": 1, "a": "A", "b": "B", "j": {"a": "A", "b": "B"}}
    assert seen.order.index("j") > max(seen.order.index("a"), seen.order.index("b"))


async def test_an_any_join_fires_once_on_the_first_arrival_with_its_output_only() -> None:
    release = asyncio.Event()

    async def fast(ctx: legato.StepContext) -> str:
        return "fast"

    async def slow(ctx: legato.StepContext) -> str:
        await release.wait()
        return "slow"

    calls: list[Any] = []

    async def first(ctx: legato.StepContext) -> Any:
        calls.append(ctx.input)
        release.set()
        return ctx.input

    flow = (
        legato.Flow("any")
        .node("s", add)
        .node("f", fast)
        .node("w", slow)
        .node("w2", slow)
        .node("j", first, join="any")
        .edge("s", "f")
        .edge("s", "w")
        .edge("s", "w2")
        .edge("f", "j")
        .edge("w", "j")
        .edge("w2", "j")
    )
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), 0, timeout=10)
        header = await engine.status(result.run_id)
    assert (result.status, header.status, header.error) == ("completed", "completed", None)
    assert calls == [{"f": "fast"}]  # a join's input: only the first arrival's output
    assert result.outputs["j"] == {"f": "fast"}
    # The run ends only once the later arrivals were delivered (and ignored).
    assert result.outputs["w"] == result.outputs["w2"] == "slow"


async def test_an_any_join_runs_when_only_one_branch_is_taken() -> None:
    seen = Seen()
    flow = (
        legato.Flow("any1")
        .node("s", seen.node(2, action="b"))
        .node("a", seen.node("A"))
        .node("b", seen.node("B"))
        .node("j", seen.node(echo=True), join="any")
        .edge("s", "a", action="a")
        .edge("s", "b", action="b")
        .edge("a", "j")
        .edge("b", "j")
    )
    result = await run(flow)
    assert result.outputs == {"s": 2, "b": "B", "j": {"b": "B"}}


async def test_dead_path_elimination() -> None:
    seen = Seen()
    flow = (
        legato.Flow("dpe")
        .node("s", seen.node(0, action="yes"))
        .node("y", seen.node("Y"))
        .node("n", seen.node("N"))
        .node("n2", seen.node("N2"))
        .node("n3", seen.node("N3"))
        .node("j", seen.node(echo=True))
        .node("dead", seen.node(echo=True))
        .edge("s", "y", action="yes")
        .edge("s", "n", action="no")
        .edge("n", "n2")
        .edge("n2", "n3")
        .edge("y", "j")
        .edge("n3", "j")
        .edge("n", "dead")
        .edge("n3", "dead")
    )
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
        records = await engine.backend.store.all_steps(result.run_id)
        history = await engine.backend.store.history(result.run_id)
    assert result.status == "completed"
    assert result.outputs == {"s": 0, "y": "Y", "j": {"y": "Y"}}
    assert {s for s, r in records.items() if r.status == "skipped"} == {"n", "n2", "n3", "dead"}
    skipped = [e.step_id for e in history if isinstance(e, StepSkipped)]
    assert sorted(skipped) == ["dead", "n", "n2", "n3"]
    assert sorted(seen.order) == ["j", "s", "y"]


async def test_a_join_whose_arrivals_are_all_skips_is_skipped_and_the_run_completes() -> None:
    seen = Seen()
    flow = (
        legato.Flow("allskip")
        .node("s", seen.node(1))
        .node("a", seen.node("A"))
        .node("b", seen.node("B"))
        .node("j", seen.node(echo=True))
        .node("k", seen.node(echo=True), join="any")
        .edge("s", "a", condition="output > 5")
        .edge("s", "b", condition="output > 5")
        .edge("a", "j")
        .edge("b", "j")
        .edge("a", "k")
        .edge("b", "k")
    )
    result = await run(flow)
    assert (result.status, result.outputs) == ("completed", {"s": 1})
    assert seen.order == ["s"]


async def test_nodes_returning_none_count_as_done() -> None:
    async def nothing(ctx: legato.StepContext) -> None:
        return None

    seen = Seen()
    flow = (
        legato.Flow("none")
        .node("a", nothing)
        .node("b", nothing)
        .node("j", seen.node(echo=True))
        .edge("a", "j")
        .edge("b", "j")
    )
    result = await run(flow)
    assert result.outputs == {"a": None, "b": None, "j": {"a": None, "b": None}}


async def test_a_start_node_gets_the_run_input_and_several_start_nodes_run() -> None:
    seen = Seen()
    flow = legato.Flow("starts").node("a", seen.node(echo=True)).node("b", seen.node(echo=True))
    result = await run(flow, {"k": 1})
    assert result.outputs == {"a": {"k": 1}, "b": {"k": 1}}
