"""What a step's input is made of: pure functions of the registry, the job and records.

A step's input is the run's input (a start node), its predecessor's output, a
dict ``{predecessor: output}`` for a join (an ``any`` join: only the one that
fired it; a ``count`` join: the ``N`` its join decided, carried by the job), the
previous iteration's last output (a loop's first node, again), or what the
node's ``inputs:`` expressions select from the run input, the outputs of upstream
nodes and the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legato.runtime.registry import CompiledEdge, CompiledNode, Registry
from legato.runtime.steps import StepId
from legato.schemas import Job, StepRecord


def _same_loop_step(reg: Registry, node: CompiledNode, other: str, iteration: int) -> str:
    """The step id of ``other`` as seen from ``node`` at ``iteration``: the same
    iteration inside a shared loop, its plain id otherwise (a loop's exit alias)."""
    on = reg.nodes[other]
    return on.step_id(iteration) if on.loop is not None and on.loop is node.loop else other


def pred_steps(reg: Registry, node: CompiledNode, job: Job) -> Mapping[str, CompiledEdge]:
    """The predecessor steps whose outputs make this step's input, by step id."""
    if node.loop is None and node.join == "all":
        return node.in_edges  # outside loops a predecessor's step id is its node id
    it = job.iteration
    if node.loop is not None and node.id == node.loop.head and it > 0:
        tail = reg.nodes[node.loop.tail]
        return {tail.step_id(it - 1): node.loop.back_edge}
    if node.join == "any" and len(node.preds) > 1:
        if job.trigger is None:
            return {}
        return {job.trigger: node.in_edges[StepId.parse(job.trigger).node]}
    if node.join == "count" and len(node.preds) > 1:
        return {sid: node.in_edges[StepId.parse(sid).node] for sid in job.joined}
    return {_same_loop_step(reg, node, p, it): node.in_edges[p] for p in node.preds}


def ref_steps(reg: Registry, node: CompiledNode, iteration: int) -> dict[str, str]:
    """The steps whose outputs the node's ``inputs:`` mapping names, by node id."""
    return {r: _same_loop_step(reg, node, r, iteration) for r in node.output_refs}


def input_steps(reg: Registry, node: CompiledNode, job: Job) -> list[str]:
    """Every step whose record the step's input is made of: predecessors first."""
    if job.index is not None:
        return []  # a foreach item: its input is its item
    preds = pred_steps(reg, node, job)
    if not node.output_refs:
        return list(preds)
    return list(preds) + [s for s in ref_steps(reg, node, job.iteration).values() if s not in preds]


def build_input(
    reg: Registry,
    node: CompiledNode,
    job: Job,
    run_input: Any,
    records: Mapping[str, StepRecord],
    context: Mapping[str, Any],
) -> Any:
    """The step's input from its input steps' ``records`` and the ``context`` values
    its expressions read (``node.input_keys``)."""
    it = job.iteration
    preds = pred_steps(reg, node, job)
    variables: dict[str, Any] = {"input": run_input, "context": context, "iteration": it}
    value: Any
    if not node.preds and not preds:
        value = run_input
    else:
        parts = {}
        for sid, edge in preds.items():
            rec = records.get(sid)
            if rec is None or rec.status != "done" or edge.target in rec.skipped:
                continue
            out = rec.output
            if edge.transform is not None:
                out = edge.transform.evaluate({**variables, "output": out})
            parts[edge.source] = out
        single = len(node.preds) <= 1 or (
            node.loop is not None and node.id == node.loop.head and it > 0
        )
        value = next(iter(parts.values()), None) if single else parts
    if node.inputs is None:
        return value
    outputs = {}
    for ref, sid in ref_steps(reg, node, it).items():
        rec = records.get(sid)
        if rec is not None and rec.status == "done":
            outputs[ref] = rec.output
    variables["outputs"] = outputs
    if isinstance(node.inputs, Mapping):
        return {k: x.evaluate(variables) for k, x in node.inputs.items()}
    return node.inputs.evaluate(variables)
