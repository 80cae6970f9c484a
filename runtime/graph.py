"""Graph analysis for the compiler: order, cycles, loop bodies, end nodes.

Pure functions over successor/predecessor lists; the compiler turns what they
find into problems with paths.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from legato.runtime.registry import CompiledEdge, LoopInfo

Adjacency = Mapping[str, list[str]]  # a defaultdict(list): every node has an entry


def topological_order(
    nodes: Iterable[str], succ: Adjacency, pred: Adjacency
) -> tuple[list[str], list[str] | None]:
    """Kahn's order of ``nodes``, and one cycle (``[a, b, a]``) if they are not a DAG."""
    names = list(nodes)
    indeg = {n: len(pred[n]) for n in names}
    queue = deque(n for n in names if indeg[n] == 0)
    order: list[str] = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for s in succ[n]:
            indeg[s] -= 1
            if indeg[s] == 0:
                queue.append(s)
    if len(order) == len(names):
        return order, None
    return order, find_cycle({n for n in names if indeg[n] > 0}, succ)


def find_cycle(nodes: set[str], succ: Adjacency) -> list[str]:
    """One cycle among ``nodes`` (those Kahn's algorithm could not order).

    That set also holds nodes merely downstream of a cycle, which lead nowhere
    inside it; peel them off first so that the walk below always finds a next node.
    """
    rest = set(nodes)
    while True:
        dead = {n for n in rest if not any(s in rest for s in succ[n])}
        if not dead:
            break
        rest -= dead
    start = min(rest)
    path = [start]
    seen = {start: 0}
    current = start
    while True:
        current = min(s for s in succ[current] if s in rest)
        if current in seen:
            return [*path[seen[current] :], current]
        seen[current] = len(path)
        path.append(current)


def reach(start: str, adj: Adjacency) -> set[str]:
    """``start`` and every node reachable from it along ``adj``."""
    seen = {start}
    stack = [start]
    while stack:
        for n in adj[stack.pop()]:
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return seen


@dataclass(frozen=True, slots=True)
class LoopProblem:
    edge: CompiledEdge  # the back edge whose loop is wrong
    message: str


def find_loops(
    back: list[CompiledEdge], succ: Adjacency, pred: Adjacency, position: Callable[[str], int]
) -> tuple[list[LoopInfo], list[LoopProblem]]:
    """The loops the back edges close, and what is wrong with the others.

    A loop body is every node on a path from the head (the back edge's target)
    to the tail (its source); it may be entered only at the head, left only
    from the tail, and share no node with another loop.
    """
    loops: list[LoopInfo] = []
    problems: list[LoopProblem] = []
    owner: dict[str, str] = {}
    for e in back:
        head, tail = e.target, e.source
        from_head = reach(head, succ)
        if tail not in from_head:
            problems.append(
                LoopProblem(e, f"loop edge {tail} -> {head} must go back to a node before {tail}")
            )
            continue
        body = frozenset(from_head & reach(tail, pred))
        found = len(problems)
        for b in sorted(body, key=position):
            outside_in = [p for p in pred[b] if p not in body]
            if b != head and outside_in:
                problems.append(
                    LoopProblem(
                        e,
                        f"edge {outside_in[0]} -> {b} enters the loop body "
                        f"other than at its first node {head!r}",
                    )
                )
            outside_out = [s for s in succ[b] if s not in body]
            if b != tail and outside_out:
                problems.append(
                    LoopProblem(
                        e,
                        f"edge {b} -> {outside_out[0]} leaves the loop body "
                        f"other than from its last node {tail!r}",
                    )
                )
            if b in owner:
                problems.append(
                    LoopProblem(e, f"loops overlap at node {b!r} (nested loops are not supported)")
                )
        if len(problems) == found:
            for b in body:
                owner[b] = head
            loops.append(LoopInfo(head, tail, body, e))
    return loops, problems


def ends_run(
    nid: str,
    succ: Adjacency,
    pred: Adjacency,
    fallbacks: frozenset[str],
    loop_of: Mapping[str, LoopInfo],
    joins: Mapping[str, str],
) -> bool:
    """Whether the run must wait for this node's own arrival before it completes.

    A node whose resolution is implied by a successor's (one that waits for all its
    predecessors) need not arrive; a sink, or a node feeding only ``any`` or ``count``
    joins (which may run before it resolves), must.
    Inside a loop only the last node (under its plain id, at the loop's exit) counts.
    """
    if nid in fallbacks:
        return False
    lp = loop_of.get(nid)
    if lp is not None and lp.tail != nid:
        return False
    return all(joins[s] in ("any", "count") and len(pred[s]) > 1 for s in succ[nid])
