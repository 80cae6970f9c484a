"""Loops (iteration in the step id, exit, max_iterations, context across iterations)
and ``inputs:`` mappings."""

from __future__ import annotations

from typing import Any

import legato
from legato.schemas import StepFailed


async def run(flow: legato.Flow, value: Any = None) -> legato.RunResult:
    async with legato.Engine() as engine:
        return await engine.run(legato.compile(flow), value, timeout=10)


async def count(ctx: legato.StepContext) -> int:
    n = await ctx.context.get("count", 0)
    ctx.context.set("count", n + 1)
    return int(ctx.input) + 1


async def check(ctx: legato.StepContext) -> int:
    assert ctx.step_id == f"check#{ctx.iteration}"
    return int(ctx.input)


async def echo(ctx: legato.StepContext) -> Any:
    return ctx.input


def loop_flow(max_iterations: int = 1000, condition: str = "output < 3") -> legato.Flow:
    return (
        legato.Flow("loop")
        .node("start", echo)
        .node("body", count)
        .node("check", check)
        .node("after", echo)
        .edge("start", "body")
        .edge("body", "check")
        .edge(
            "check",
            "body",
            loop=legato.Loop(max_iterations=max_iterations),
            condition=condition,
        )
        .edge("check", "after")
    )


async def test_a_loop_reruns_its_body_with_the_iteration_in_the_step_id() -> None:
    result = await run(loop_flow(), 0)
    assert (result.status, result.error) == ("completed", None)
    assert result.outputs == {
        "start": 0,
        "body#0": 1,
        "check#0": 1,
        "body#1": 2,
        "check#1": 2,
        "body#2": 3,
        "check#2": 3,
        "check": 3,  # the loop's exit, under the last node's plain id
        "after": 3,
    }
    # Each iteration saw the previous one's context write.
    assert result.context == {"count": 3}


async def test_a_loop_that_exits_at_once_runs_its_body_once() -> None:
    result = await run(loop_flow(), 10)
    assert result.outputs == {"start": 10, "body#0": 11, "check#0": 11, "check": 11, "after": 11}


async def test_max_iterations_fails_the_run_with_a_loop_limit_error() -> None:
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(loop_flow(2, "true")), 0, timeout=10)
        history = await engine.backend.store.history(result.run_id)
    assert result.status == "failed"
    assert result.error == "step check#1 failed: loop body -> check reached max_iterations (2)"
    [failed] = [e for e in history if isinstance(e, StepFailed)]
    assert (failed.step_id, failed.error_type, failed.retry_at) == (
        "check#1",
        "LoopLimitError",
        None,
    )
    assert set(result.outputs) == {"start", "body#0", "check#0", "body#1"}


async def test_a_loop_on_an_action_and_the_iteration_variable() -> None:
    async def step(ctx: legato.StepContext) -> legato.Result:
        return legato.Result(ctx.iteration, action="again" if ctx.iteration < 4 else "done")

    flow = (
        legato.Flow("actloop")
        .node("s", step)
        .node("end", echo)
        .edge("s", "s", loop=True, action="again", condition="iteration % 2 == 0 || true")
        .edge("s", "end", action="done")
    )
    result = await run(flow)
    assert result.outputs == {**{f"s#{i}": i for i in range(5)}, "s": 4, "end": 4}


async def test_a_back_edge_transform_feeds_the_next_iteration() -> None:
    flow = (
        legato.Flow("tr")
        .node("a", echo)
        .edge("a", "a", loop=True, condition="output < 100", transform="output * 3")
    )
    result = await run(flow, 1)
    assert result.outputs == {
        "a#0": 1,
        "a#1": 3,
        "a#2": 9,
        "a#3": 27,
        "a#4": 81,
        "a#5": 243,
        "a": 243,
    }


async def test_inputs_as_one_expression_and_as_a_mapping() -> None:
    seen: dict[str, Any] = {}

    async def record(ctx: legato.StepContext) -> Any:
        seen[ctx.step_id] = ctx.input
        return ctx.input

    async def first(ctx: legato.StepContext) -> dict[str, int]:
        ctx.context.set("scale", 10)
        return {"x": 2}

    async def second(ctx: legato.StepContext) -> int:
        return 5

    flow = (
        legato.Flow("inputs")
        .node("a", first)
        .node("b", second)
        .node("one", record, inputs="outputs.a.x * context.scale + input.k")
        .node(
            "many",
            record,
            inputs={"ax": "outputs.a.x", "b": "outputs['b']", "k": "input.k", "it": "iteration"},
        )
        .edge("a", "b")
        .edge("b", "one")
        .edge("one", "many")
    )
    result = await run(flow, {"k": 1})
    assert result.status == "completed", result.error
    assert seen == {"one": 21, "many": {"ax": 2, "b": 5, "k": 1, "it": 0}}


async def test_inputs_may_read_a_loops_last_node_after_the_loop() -> None:
    flow = loop_flow()
    flow.node("summary", echo, inputs={"last": "outputs.check", "start": "outputs.start"})
    flow.edge("after", "summary")
    result = await run(flow, 0)
    assert result.outputs["summary"] == {"last": 3, "start": 0}


async def test_an_inputs_expression_failing_at_run_time_fails_the_step_clearly() -> None:
    flow = (
        legato.Flow("bad").node("a", echo).node("b", echo, inputs="outputs.a.nope").edge("a", "b")
    )
    result = await run(flow, {"x": 1})
    assert result.status == "failed"
    assert result.error == "step b failed: expression 'outputs.a.nope' failed: no such key 'nope'"
