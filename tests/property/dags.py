"""Random DAGs, a reference interpreter of the routing rules, and a chaotic job bus.

The reference interpreter is written from the rules in the README, not from
the executor's code, so that the property tests compare two independent
readings of the same semantics.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

import legato
from legato.adapters.memory import MemoryJobBus
from legato.schemas import Job

CONDITIONS = [None, None, "output % 3 != 1", "output % 2 == 0", "output >= input.low"]


@dataclass(frozen=True)
class EdgeSpec:
    source: int
    target: int
    action: str | None
    condition: str | None


@dataclass(frozen=True)
class DagSpec:
    size: int
    edges: tuple[EdgeSpec, ...]
    actions: tuple[str | None, ...]  # what each node returns as its action
    joins: tuple[str, ...]
    low: int
    fans: tuple[int | None, ...] = ()  # a foreach sink's number of items (None: not one)

    def preds(self, j: int) -> list[EdgeSpec]:
        return [e for e in self.edges if e.target == j]

    def need(self, j: int) -> int:
        """The N of node ``j``'s count join: all but one of its predecessors (at least 1)."""
        return max(1, len(self.preds(j)) - 1)

    def join(self, j: int) -> str | dict[str, int]:
        """Node ``j``'s ``join`` as the Flow builder takes it."""
        return {"count": self.need(j)} if self.joins[j] == "count" else self.joins[j]

    def fan(self, j: int) -> int | None:
        """Node ``j``'s number of foreach items, or None (only sinks are foreach nodes:
        their output is a list, which the conditions on ints cannot read; and no
        ``any`` joins)."""
        if j >= len(self.fans) or self.joins[j] == "any":
            return None  # a foreach node cannot have `join: any`
        if any(e.source == j for e in self.edges):
            return None
        return self.fans[j]

    def foreach(self, j: int) -> dict[str, Any] | None:
        """Node ``j``'s ``foreach`` as the Flow builder takes it."""
        k = self.fan(j)
        if k is None:
            return None
        items = "[" + ", ".join(str(x) for x in range(k)) + "]"
        return {"items": items, "max_concurrency": 1 + j % 2} if j % 3 else {"items": items}

    def calls(self, outputs: dict[str, Any]) -> list[str]:
        """The node calls a run with these outputs made: one per node, one per item."""
        out: list[str] = []
        for j in range(self.size):
            if name(j) in outputs:
                k = self.fan(j)
                out.extend([name(j)] * (1 if k is None else k))
        return sorted(out)

    def racy(self, j: int) -> bool:
        """Whether which predecessors make node ``j``'s input is a race (any, count)."""
        return self.joins[j] in ("any", "count") and len(self.preds(j)) > 1


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 20) -> DagSpec:
    size = draw(st.integers(1, max_nodes))
    edges = []
    for j in range(1, size):
        sources = draw(st.sets(st.integers(0, j - 1), max_size=min(j, 3)))
        for i in sorted(sources):
            edges.append(
                EdgeSpec(
                    i,
                    j,
                    draw(st.sampled_from([None, None, "x", "y"])),
                    draw(st.sampled_from(CONDITIONS)),
                )
            )
    actions = tuple(draw(st.sampled_from([None, "x", "y"])) for _ in range(size))
    joins = tuple(draw(st.sampled_from(["all", "all", "any", "count"])) for _ in range(size))
    fans = tuple(draw(st.sampled_from([None, None, 0, 1, 3])) for _ in range(size))
    return DagSpec(size, tuple(edges), actions, joins, draw(st.integers(0, 9)), fans)


def item_output(i: int, item: int) -> int:
    """The output of item ``item`` of foreach node ``i``."""
    return (item * 3 + i) % 10


def name(i: int) -> str:
    return f"n{i}"


def compute(spec: DagSpec, i: int, value: Any) -> int:
    """The output of node ``i`` for its input (any and count joins ignore it: who wins
    is a race; a count join checks that it got exactly N)."""
    preds = spec.preds(i)
    if not preds:
        return (i * 7 + 3) % 10
    if spec.racy(i):
        if spec.joins[i] == "count":
            assert isinstance(value, dict) and len(value) == spec.need(i), value
        return i % 10
    if len(preds) == 1:
        return (int(value) + i) % 10
    return (sum(value.values()) + i) % 10


def _cond(condition: str | None, output: int, low: int) -> bool:
    if condition is None:
        return True
    if condition == "output % 3 != 1":
        return output % 3 != 1
    if condition == "output % 2 == 0":
        return output % 2 == 0
    return output >= low


def reference(spec: DagSpec) -> dict[str, Any]:
    """Outputs of the nodes that run, by the rules, in topological order."""
    out: dict[int, int] = {}
    for j in range(spec.size):
        preds = spec.preds(j)
        if not preds:
            out[j] = compute(spec, j, None)
            continue
        taken = [
            e
            for e in preds
            if e.source in out
            and (e.action is None or e.action == spec.actions[e.source])
            and _cond(e.condition, out[e.source], spec.low)
        ]
        if not taken:
            continue  # every arrival was a skip
        if spec.joins[j] == "count" and len(preds) > 1:
            if len(taken) < spec.need(j):
                continue  # fewer than N delivered
            taken = taken[: spec.need(j)]  # which N is a race; compute only counts them
        if len(preds) == 1:
            value: Any = out[taken[0].source]
        else:
            value = {name(e.source): out[e.source] for e in taken}
        out[j] = compute(spec, j, value)
    result: dict[str, Any] = {}
    for i, v in out.items():
        k = spec.fan(i)
        if k is None:
            result[name(i)] = v
            continue
        result[name(i)] = [item_output(i, x) for x in range(k)]
        result.update({f"{name(i)}[{x}]": item_output(i, x) for x in range(k)})
    return result


@dataclass
class Recorder:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (run_id, node) in call order


def build(spec: DagSpec, recorder: Recorder) -> legato.Registry:
    flow = legato.Flow(f"dag{spec.size}")
    for i in range(spec.size):

        async def fn(ctx: legato.StepContext, i: int = i) -> legato.Result:
            recorder.calls.append((ctx.run_id, ctx.node_id))
            await asyncio.sleep(0)
            if ctx.index is not None:
                return item_output(i, ctx.input)
            return legato.Result(compute(spec, i, ctx.input), spec.actions[i])

        flow.node(name(i), fn, join=spec.join(i), foreach=spec.foreach(i))
    for e in spec.edges:
        flow.edge(name(e.source), name(e.target), action=e.action, condition=e.condition)
    return legato.compile(flow)


class ChaosBus(MemoryJobBus):
    """Duplicates, reorders and later redelivers published jobs (seeded)."""

    def __init__(self, seed: int, duplicate: float = 0.3, redeliver: float = 0.2) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.duplicate = duplicate
        self.redeliver = redeliver
        self.extra = 0

    async def publish(self, jobs: Sequence[Job]) -> None:
        batch = list(jobs)
        for job in jobs:
            if self.rng.random() < self.duplicate:
                batch.append(job)
                self.extra += 1
        self.rng.shuffle(batch)
        await super().publish(batch)
        loop = asyncio.get_running_loop()
        for job in jobs:
            if self.rng.random() < self.redeliver:
                self.extra += 1
                loop.call_later(self.rng.random() * 0.003, self.publish_nowait, [job])
