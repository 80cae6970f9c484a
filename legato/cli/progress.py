"""Where each node of a blueprint stands in a run, from the run's history alone."""

from __future__ import annotations

from collections.abc import Iterable

from legato.runtime.history import RunState, StepState, fold
from legato.schemas import Blueprint, Event

STATUSES = ("completed", "failed", "skipped", "running", "pending")
# A node with several steps (loop iterations) shows the most telling one.
_RANK = {"failed": 0, "running": 1, "completed": 2, "skipped": 3, "pending": 4}
_OF_STEP = {
    "done": "completed",
    "skipped": "skipped",
    "failed": "failed",
    "retrying": "running",  # waiting on its retry timer
    "waiting": "running",  # a sleep or a signal
}


def node_statuses(bp: Blueprint, events: Iterable[Event]) -> dict[str, str]:
    """``{node id: status}`` for every node of ``bp``, status one of ``STATUSES``.

    A step that completed through its fallback shows its node failed and the
    fallback completed. In a run still going, a node with no event yet is
    ``running`` when its job is due (its predecessors delivered to it, as its
    join needs), else ``pending``.
    """
    state = fold(events)
    seen: dict[str, list[str]] = {}
    for step in state.steps.values():
        for name, status in _step_nodes(step):
            seen.setdefault(name, []).append(status)
    out = {n.id: min(seen.get(n.id, ["pending"]), key=_RANK.__getitem__) for n in bp.nodes}
    if state.status == "running" and state.run_id:
        for node in bp.nodes:
            if out[node.id] == "pending" and _due(bp, node.id, node.config.join, state):
                out[node.id] = "running"
    return out


def _step_nodes(step: StepState) -> list[tuple[str, str]]:
    status = _OF_STEP.get(step.status, "running")
    if step.fallback is None:
        return [(step.node, status)]
    return [(step.node, "failed"), (step.fallback, status)]


def _due(bp: Blueprint, node: str, join: str, state: RunState) -> bool:
    sources = {e.source for e in bp.edges if e.target == node and e.loop is None}
    if not sources:
        return True  # a start node: its job was sent with the run
    done = [st for st in state.steps.values() if st.status == "done"]
    delivered = {s for s in sources if any(st.node == s and node not in st.skipped for st in done)}
    if join == "any":
        return bool(delivered)
    resolved = {st.node for st in state.steps.values() if st.status in ("done", "skipped")}
    return bool(delivered) and sources <= resolved
