"""The compiled, frozen form of a blueprint that workers execute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from legato.runtime.expr import Expr
from legato.runtime.nodes import Implementation
from legato.schemas import Blueprint, Node, Retry

END_STEP = "$end"  # the virtual join the end nodes arrive at; when it fires the run completes


@dataclass(frozen=True, slots=True)
class CompiledEdge:
    source: str
    target: str
    action: str | None
    condition: Expr | None
    transform: Expr | None
    is_loop: bool = False
    max_iterations: int = 0


@dataclass(frozen=True, slots=True)
class LoopInfo:
    """A loop: ``body`` runs from ``head`` to ``tail``, again while the back edge is taken."""

    head: str
    tail: str
    body: frozenset[str]
    back_edge: CompiledEdge


@dataclass(frozen=True, slots=True)
class ForEachInfo:
    """A foreach node: ``items`` gives the list; ``window`` bounds the items in flight."""

    items: Expr
    window: int | None


@dataclass(frozen=True, slots=True)
class CompiledNode:
    id: str
    spec: Node
    impl: Implementation
    params: Mapping[str, Any]
    inputs: Expr | Mapping[str, Expr] | None
    retry: Retry | None
    timeout: float | None
    fallback: str | None
    join: Literal["all", "any", "count"]
    topo: int
    preds: tuple[str, ...]
    in_edges: Mapping[str, CompiledEdge]
    out_edges: tuple[CompiledEdge, ...]
    loop: LoopInfo | None = None
    ends_run: bool = False  # arrives at the run's end join when resolved
    input_keys: tuple[str, ...] = ()  # context keys read to build the input
    route_keys: tuple[str, ...] = ()  # context keys read by outgoing conditions
    output_refs: tuple[str, ...] = ()  # nodes read by an ``inputs`` mapping
    join_count: int = 0  # the N of ``join: {count: N}``
    foreach: ForEachInfo | None = None

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts if self.retry is not None else 1

    def step_id(self, iteration: int) -> str:
        return f"{self.id}#{iteration}" if self.loop is not None else self.id


@dataclass(frozen=True)
class Registry:
    """Everything needed to run a blueprint, checked and precomputed once."""

    blueprint: Blueprint
    nodes: Mapping[str, CompiledNode]
    start: tuple[str, ...]
    end_nodes: tuple[str, ...]  # the nodes whose resolution the run's end waits for
    loops: tuple[LoopInfo, ...]
    fallbacks: frozenset[str]
    warnings: tuple[str, ...] = ()
    _anc_cache: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return self.blueprint.id

    @property
    def version(self) -> str:
        return self.blueprint.version

    def is_ancestor(self, ancestor: str, node: str) -> bool:
        """True if ``ancestor`` precedes ``node`` along forward edges."""
        key = (ancestor, node)
        cached = self._anc_cache.get(key)
        if cached is not None:
            return cached
        limit = self.nodes[ancestor].topo
        seen = {node}
        stack = [node]
        found = False
        while stack and not found:
            for pred in self.nodes[stack.pop()].preds:
                if pred == ancestor:
                    found = True
                    break
                if pred not in seen and self.nodes[pred].topo > limit:
                    seen.add(pred)
                    stack.append(pred)
        if len(self._anc_cache) < 100_000:
            self._anc_cache[key] = found
        return found

    def order_key(self, node_id: str, iteration: int) -> tuple[int, int, int]:
        """A total order of steps consistent with causality (for context resolution)."""
        node = self.nodes[node_id]
        if node.loop is None:
            return (node.topo, 0, 0)
        return (self.nodes[node.loop.head].topo, iteration, node.topo)
