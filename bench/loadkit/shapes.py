"""The shapes a load runs, and their node code.

Nodes name their code as ``"bench.loadkit.shapes:<function>"`` so worker
processes started with ``legato worker --import bench.loadkit.shapes`` run the
same blueprints as the load process (callables passed to ``Flow`` would only
exist in the process that built the flow).
"""

from __future__ import annotations

import asyncio
from typing import Any

import legato

SHAPES = ("chain", "fan", "diamond", "wide", "etl")
WIDE_WIDTH = 4
_HERE = "bench.loadkit.shapes"


async def step(ctx: legato.StepContext) -> int:
    """Add 1 to the input (the sum of a join's inputs)."""
    value = ctx.input
    if isinstance(value, dict):
        return sum(v for v in value.values() if isinstance(v, int)) + 1
    return (value if isinstance(value, int) else 0) + 1


async def work(ctx: legato.StepContext) -> int:
    """``step`` after ``params.ms`` milliseconds of waiting (I/O in an ETL job)."""
    await asyncio.sleep(float(ctx.params.get("ms", 0)) / 1000)
    return await step(ctx)


def blueprint(shape: str, n: int) -> legato.Registry:
    """Compile ``shape`` at about ``n`` nodes (``etl`` has a fixed 9).

    - chain: n nodes in a line;
    - fan: one source, n branches, one ``all`` join (n + 2 nodes);
    - diamond: k = (n - 1) // 3 diamonds stacked (a -> b, c -> d; 3k + 1 nodes);
    - wide: one source, 4 chains of (n - 2) // 4 nodes, one join;
    - etl: two extracts, a join, a clean step fanning out to two enrichments, their
      join, a durable ``legato.sleep`` of 10 ms, a load; node code waits 5-20 ms.
    """
    flow = legato.Flow(f"load_{shape}{n}")
    uses = f"{_HERE}:step"
    if shape == "chain":
        for i in range(n):
            flow.node(f"n{i}", uses)
            if i:
                flow.edge(f"n{i - 1}", f"n{i}")
    elif shape == "fan":
        flow.node("src", uses).node("join", uses)
        for i in range(max(1, n)):
            flow.node(f"b{i}", uses).edge("src", f"b{i}").edge(f"b{i}", "join")
    elif shape == "diamond":
        flow.node("d0", uses)
        for k in range(1, max(1, (n - 1) // 3) + 1):
            top, bottom = f"d{k - 1}", f"d{k}"
            flow.node(f"l{k}", uses).node(f"r{k}", uses).node(bottom, uses)
            flow.edge(top, f"l{k}").edge(top, f"r{k}")
            flow.edge(f"l{k}", bottom).edge(f"r{k}", bottom)
    elif shape == "wide":
        depth = max(1, (n - 2) // WIDE_WIDTH)
        flow.node("src", uses).node("join", uses)
        for w in range(WIDE_WIDTH):
            prev = "src"
            for d in range(depth):
                name = f"c{w}_{d}"
                flow.node(name, uses).edge(prev, name)
                prev = name
            flow.edge(prev, "join")
    elif shape == "etl":
        work = f"{_HERE}:work"
        flow.node("extract_users", work, params={"ms": 5})
        flow.node("extract_orders", work, params={"ms": 15})
        flow.node("join", uses).node("clean", uses)
        flow.node("enrich_geo", work, params={"ms": 10})
        flow.node("enrich_fx", work, params={"ms": 20})
        flow.node("merge", uses)
        flow.node("settle", "legato.sleep", params={"seconds": 0.01})
        flow.node("load", work, params={"ms": 5})
        for a, b in [
            ("extract_users", "join"),
            ("extract_orders", "join"),
            ("join", "clean"),
            ("clean", "enrich_geo"),
            ("clean", "enrich_fx"),
            ("enrich_geo", "merge"),
            ("enrich_fx", "merge"),
            ("merge", "settle"),
            ("settle", "load"),
        ]:
            flow.edge(a, b)
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    return legato.compile(flow)


def waits(reg: legato.Registry) -> set[str]:
    """Nodes whose start includes a durable wait (their hops are not scheduling)."""
    return {n.id for n in reg.nodes.values() if n.impl.kind in ("sleep", "signal")}


def describe(reg: legato.Registry) -> dict[str, Any]:
    """Per-run counts the floor replays: steps, predecessor reads, join arrivals."""
    nodes = list(reg.nodes.values())
    return {
        "nodes": len(nodes),
        "width": max(1, max((len(n.out_edges) for n in nodes), default=1)),
        "join_arrivals": sum(len(n.preds) for n in nodes if len(n.preds) > 1),
        "ends": len(reg.end_nodes),
    }
