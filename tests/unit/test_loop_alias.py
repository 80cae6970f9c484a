"""When a loop exits, its last node is resolved under its plain id too: that event
must carry everything the record does (the fallback included), or a replay of the
history disagrees with the store."""

from __future__ import annotations

import legato
from legato.schemas import StepCompleted


async def body(ctx: legato.StepContext) -> int:
    if ctx.iteration == 1:
        raise legato.NonRetryableError("second pass")
    return ctx.iteration


async def rescue(ctx: legato.StepContext) -> str:
    return f"rescued: {ctx.error}"


async def test_the_loop_exit_alias_event_carries_the_fallback() -> None:
    flow = (
        legato.Flow("alias")
        .node("b", body, fallback="fb")
        .node("fb", rescue)
        .edge("b", "b", loop=True, condition="iteration < 1")
    )
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
        history = await engine.backend.store.history(result.run_id)
        records = await engine.backend.store.all_steps(result.run_id)
    assert result.status == "completed", result.error
    assert result.outputs == {"b#0": 0, "b#1": "rescued: second pass", "b": "rescued: second pass"}
    alias = [e for e in history if isinstance(e, StepCompleted) and e.step_id == "b"]
    assert [(e.output, e.fallback) for e in alias] == [("rescued: second pass", "fb")]
    assert records["b"].fallback == "fb"
