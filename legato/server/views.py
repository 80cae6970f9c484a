"""What the API answers about runs and blueprints, built from histories and registries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from legato.cli.progress import node_statuses
from legato.runtime.graph import topological_order
from legato.runtime.history import RunState, fold
from legato.runtime.inputs import build_input
from legato.runtime.registry import Registry
from legato.runtime.steps import StepId
from legato.schemas import Blueprint, Event, Job, StepCompleted, StepFailed, StepRecord


def graph(bp: Blueprint) -> dict[str, Any]:
    """Nodes in layers (longest path from a start node, loop back edges left out) and
    edges, for drawing: ``{"nodes": [{id, uses, layer, slot}], "edges": [...]}``."""
    succ: defaultdict[str, list[str]] = defaultdict(list)
    pred: defaultdict[str, list[str]] = defaultdict(list)
    ids = {n.id for n in bp.nodes}
    for e in bp.edges:
        if e.loop is None and e.source in ids and e.target in ids:
            succ[e.source].append(e.target)
            pred[e.target].append(e.source)
    order, _ = topological_order([n.id for n in bp.nodes], succ, pred)
    layer: dict[str, int] = {}
    for node in order:  # a registered blueprint's forward edges form no cycle
        layer[node] = 1 + max((layer[p] for p in pred[node] if p in layer), default=-1)
    for n in bp.nodes:
        layer.setdefault(n.id, 0)
    slots: dict[int, int] = {}
    nodes = []
    for n in bp.nodes:
        slot = slots.get(layer[n.id], 0)
        slots[layer[n.id]] = slot + 1
        nodes.append({"id": n.id, "uses": n.uses, "layer": layer[n.id], "slot": slot})
    edges = [
        {
            "source": e.source,
            "target": e.target,
            "loop": e.loop is not None,
            "label": " / ".join(
                p for p in (e.action, f"if {e.condition}" if e.condition else None) if p
            ),
        }
        for e in bp.edges
    ]
    for n in bp.nodes:
        if n.config.fallback is not None:
            edges.append(
                {
                    "source": n.id,
                    "target": n.config.fallback,
                    "loop": False,
                    "label": "fallback",
                    "fallback": True,
                }
            )
    return {"nodes": nodes, "edges": edges}


def _trigger(reg: Registry, step_id: str, events: list[Event]) -> str | None:
    """The predecessor step that fired an ``any`` join: the first that delivered to it."""
    node = reg.nodes[StepId.parse(step_id).node]
    for event in events:
        if (
            isinstance(event, StepCompleted)
            and event.node in node.preds
            and node.id not in event.skipped
        ):
            return event.step_id
    return None


def step_input(
    reg: Registry, run_id: str, step_id: str, state: RunState, events: list[Event]
) -> tuple[bool, Any]:
    """``(True, input)`` as the step saw it, rebuilt from the records of its input
    steps; ``(False, None)`` when it cannot be rebuilt from outputs alone (its input
    reads the run context, or the node is not in the blueprint)."""
    sid = StepId.parse(step_id)
    node = reg.nodes.get(sid.node)
    if node is None or node.input_keys:
        return False, None
    records: dict[str, StepRecord] = {
        s: st.record() for s, st in state.steps.items() if st.resolved
    }
    trigger = _trigger(reg, step_id, events) if node.join == "any" and len(node.preds) > 1 else None
    job = Job(run_id, step_id, node.id, reg.id, reg.version, sid.position, trigger=trigger)
    try:
        return True, build_input(reg, node, job, state.input, records, {})
    except Exception:  # an expression that fails here failed the step too
        return False, None


def steps(reg: Registry, run_id: str, events: list[Event]) -> list[dict[str, Any]]:
    """Each step of the run: status, attempts, input, output, errors of its attempts."""
    state = fold(events, reg, edges=False)
    failures: dict[str, list[dict[str, Any]]] = {}
    times: dict[str, tuple[float, float]] = {}
    for event in events:
        if isinstance(event, StepFailed):
            failure = msgspec.to_builtins(event)
            failure.pop("type", None)
            failures.setdefault(event.step_id, []).append(failure)
        elif isinstance(event, StepCompleted) and event.step_id not in times:
            times[event.step_id] = (event.started_at, event.at)
    out = []
    for step_id, st in state.steps.items():
        known, value = step_input(reg, run_id, step_id, state, events)
        item: dict[str, Any] = {
            "step_id": step_id,
            "node": st.node,
            "status": st.status,
            "attempts": st.attempts,
            "error": st.last_error,
            "failures": failures.get(step_id, []),
        }
        if known:
            item["input"] = value
        if st.status == "done":
            item["output"] = st.output
            item["action"] = st.action
        extra = {
            "fallback": st.fallback,
            "retry_at": st.retry_at,
            "until": st.until,
            "signal": st.signal,
        }
        item.update({k: v for k, v in extra.items() if v is not None})
        if step_id in times:
            item["started_at"], item["ended_at"] = times[step_id]
        out.append(item)
    return out


def node_colours(bp: Blueprint, events: list[Event]) -> dict[str, str]:
    """``{node: completed|failed|skipped|running|pending}``, as ``legato graph --run``."""
    return node_statuses(bp, events)
