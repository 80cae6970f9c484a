"""Redelivered and duplicated jobs execute nothing twice and fire no join twice.

Jobs are pumped by hand through the step pipeline (``legato.testing.Pump``): after
every job, every job handled so far is handled again (a worst-case at-least-once
bus), and at the end the jobs rebuilt from the records are handled once more.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import legato
import legato.testing
from legato.runtime.steps import StepId
from legato.schemas import Job


def flow(calls: Counter[str]) -> legato.Flow:
    def node(output: Any = None, action: str | None = None, *, echo: bool = False) -> Any:
        async def fn(ctx: legato.StepContext) -> Any:
            calls[ctx.step_id] += 1
            ctx.context.set(ctx.node_id, ctx.iteration)
            value = ctx.input if echo else output
            return legato.Result(value, action)

        return fn

    return (
        legato.Flow("redeliver")
        .node("s", node(1, "go"))
        .node("a", node("A"))
        .node("b", node("B"))
        .node("dead", node("D"))
        .node("j", node(echo=True))
        .node("any", node(echo=True), join="any")
        .node("loop", node(echo=True))
        .node("end", node(echo=True))
        .edge("s", "a", action="go")
        .edge("s", "b", action="go")
        .edge("s", "dead", action="stop")
        .edge("a", "j")
        .edge("b", "j")
        .edge("dead", "j")
        .edge("a", "any")
        .edge("b", "any")
        .edge("j", "loop")
        .edge("loop", "loop", loop=True, condition="iteration < 2")
        .edge("loop", "end")
        .edge("any", "end")
    )


async def clean_run() -> legato.RunResult:
    async with legato.Engine() as engine:
        return await engine.run(legato.compile(flow(Counter())), None, timeout=10)


async def test_redelivered_jobs_run_nothing_twice() -> None:
    calls: Counter[str] = Counter()
    backend = legato.testing.backend()
    engine = legato.Engine(backend)
    reg = legato.compile(flow(calls))
    rid = await engine.start(reg, None)
    pump = legato.testing.Pump(engine)
    handled: list[Job] = []
    duplicates = 0
    while pump.collect():
        job = pump.queue.pop(0)
        if job in handled:  # re-driven by an earlier redelivery: a duplicate delivery
            duplicates += 1
            await pump.handle(job)
            continue
        handled.append(job)
        for j in handled:  # the new job, then every earlier one again
            await pump.handle(j)
    records = await backend.store.all_steps(rid)
    header = await engine.status(rid)
    assert header.status == "completed"
    # Jobs rebuilt from the records (as a reconciler would) change nothing either.
    for step_id in records:
        sid = StepId.parse(step_id)
        await engine.handle(Job(rid, step_id, sid.node, reg.id, reg.version, sid.position))
    await engine.close()

    clean = await clean_run()
    result = await engine.result(await engine.status(rid))
    assert result.outputs == clean.outputs
    assert result.context == clean.context
    assert set(calls) == set(clean.outputs) - {"loop"}  # "loop" is the exit alias of loop#2
    assert all(n == 1 for n in calls.values()), calls
    assert duplicates > 0  # successors were re-driven, and ran no step again
