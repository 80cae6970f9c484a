"""The context resolution rule: which write of each key a step sees, and the final context.

Context resolution rule (deterministic, the same embedded and distributed):
a step sees, for each key, the write made by the latest of its *ancestor*
steps (in a fixed causal order: topological position, then loop iteration),
plus its own writes. Writes by concurrent branches are all kept (each in its
own row) and never overwrite each other; the run's final context takes, per
key, the write of the latest step in that same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from legato.runtime.nodectx import MISSING, Loader, RunContext, StepContext
from legato.runtime.registry import Registry
from legato.runtime.steps import StepId
from legato.schemas import ContextWrite

__all__ = ["Loader", "RunContext", "StepContext", "final_context", "final_value", "visible_value"]


def visible_value(
    reg: Registry, node_id: str, iteration: int, writes: Iterable[ContextWrite]
) -> Any:
    """The value a step of ``node_id`` at ``iteration`` sees, or ``MISSING``."""
    reader = reg.nodes[node_id]
    best: tuple[int, int, int] | None = None
    value: Any = MISSING
    for w in writes:
        sid = StepId.parse(w.step_id)
        wnode, wit = sid.node, sid.position
        writer = reg.nodes.get(wnode)
        if writer is None:
            continue
        if reader.loop is not None and writer.loop is reader.loop:
            visible = wit < iteration or (wit == iteration and reg.is_ancestor(wnode, node_id))
        else:
            visible = reg.is_ancestor(wnode, node_id)
        if visible:
            key = reg.order_key(wnode, wit)
            if best is None or key > best:
                best, value = key, w.value
    return value


def final_value(reg: Registry, writes: Iterable[ContextWrite]) -> Any:
    best: tuple[int, int, int, str] | None = None
    value: Any = MISSING
    for w in writes:
        sid = StepId.parse(w.step_id)
        wnode, wit = sid.node, sid.position
        if wnode not in reg.nodes:
            continue
        key = (*reg.order_key(wnode, wit), w.step_id)
        if best is None or key > best:
            best, value = key, w.value
    return value


def final_context(reg: Registry, writes: Mapping[str, list[ContextWrite]]) -> dict[str, Any]:
    out = {}
    for key, ws in writes.items():
        v = final_value(reg, ws)
        if v is not MISSING:
            out[key] = v
    return out
