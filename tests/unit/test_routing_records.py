"""A step's record says which edges it did not take, so a fan-out's record stays
small however wide it is (its successors each read it)."""

from __future__ import annotations

import legato


async def one(ctx: legato.StepContext) -> int:
    return 1


async def pick(ctx: legato.StepContext) -> legato.Result:
    return legato.Result(3, action="even" if ctx.input % 2 == 0 else "odd")


async def test_a_full_fan_out_records_no_targets() -> None:
    flow = legato.Flow("wide").node("src", one)
    for i in range(500):
        flow.node(f"b{i}", one).edge("src", f"b{i}")
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), 0, timeout=10)
        record = (await engine.backend.store.get_steps(result.run_id, ["src"]))["src"]
    assert len(result.outputs) == 501
    assert record.skipped == () and not record.looped


async def test_untaken_edges_are_recorded_and_skipped() -> None:
    flow = (
        legato.Flow("pick")
        .node("p", pick)
        .node("e", one)
        .node("o", one)
        .node("c", one)
        .edge("p", "e", action="even")
        .edge("p", "o", action="odd")
        .edge("p", "c", condition="output > 5")
    )
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), 2, timeout=10)
        record = (await engine.backend.store.get_steps(result.run_id, ["p"]))["p"]
    assert record.skipped == ("o", "c")
    assert set(result.outputs) == {"p", "e"}
