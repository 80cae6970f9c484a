"""Blueprint -> frozen Registry. Every problem is collected, then raised once."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Literal

from legato.runtime import cron
from legato.runtime.blueprint import Flow
from legato.runtime.documents import read_document
from legato.runtime.errors import BlueprintError, Problem
from legato.runtime.expr import Expr, ExpressionCompileError, compile_expr
from legato.runtime.frozen import freeze
from legato.runtime.graph import ends_run, find_loops, topological_order
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.nodes import (
    Implementation,
    NodeCatalog,
    default_catalog,
    implementation,
    resolve,
)
from legato.runtime.registry import CompiledEdge, CompiledNode, ForEachInfo, LoopInfo, Registry
from legato.runtime.structure import Reading, read_blueprint
from legato.runtime.waits import check_params
from legato.schemas import Blueprint, Edge, Node
from legato.schemas.blueprint import CountJoin

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")  # no "#", "[", "]": see runtime/steps.py
EDGE_VARIABLES = ("output", "input", "context", "iteration")
_Parts = tuple[Implementation | None, Any, ForEachInfo | None]  # impl, inputs, foreach
INPUT_VARIABLES = ("input", "outputs", "context", "iteration")


class _Compiler:
    def __init__(self, bp: Blueprint, catalog: NodeCatalog, reading: Reading | None = None) -> None:
        self.bp = bp
        self.catalog = catalog
        self.reading = reading or Reading(bp)
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.index: dict[str, int] = {}

    def problem(self, path: str, message: str) -> None:
        # What parsing reported stands in for the value; a problem there is an echo.
        if not self.reading.reported(path):
            self.problems.append(Problem(path, message))

    def all_problems(self) -> list[Problem]:
        return [*self.reading.problems, *self.problems]

    def expr(self, source: str, allowed: tuple[str, ...], path: str) -> Expr | None:
        try:
            return compile_expr(source, allowed)
        except ExpressionCompileError as exc:
            self.problem(path, f"invalid expression: {exc}")
            return None

    # -- nodes ---------------------------------------------------------------------------

    def check_nodes(self) -> dict[str, _Parts]:
        out: dict[str, _Parts] = {}
        if not self.bp.nodes:
            self.problem("nodes", "a blueprint needs at least one node")
        for i, node in enumerate(self.bp.nodes):
            path = f"nodes[{i}]"
            if not _ID.match(node.id):
                self.problem(f"{path}.id", f"invalid node id {node.id!r} (letters, digits, _ . -)")
            impl = self.impl(node, path)
            parts = (impl, self.inputs(node, path, impl), self.foreach(node, path))
            self.check_config(node, path)
            if self.reading.reported(f"{path}.id"):
                continue  # checked, but nothing can refer to it
            if node.id in self.index:
                self.problem(
                    f"{path}.id",
                    f"duplicate node id {node.id!r} (first at nodes[{self.index[node.id]}])",
                )
                continue
            self.index[node.id] = i
            out[node.id] = parts
        return out

    def impl(self, node: Node, path: str) -> Implementation | None:
        try:
            impl = implementation(resolve(node.uses, self.catalog))
        except LookupError as exc:
            self.problem(f"{path}.uses", f"unresolvable implementation: {exc}")
            return None
        if impl.kind in ("signal", "sleep", "event"):
            for message in check_params(impl.kind, node.params):
                field, _, text = message.partition(": ")
                self.problem(f"{path}.{field}", text)
        return impl

    def inputs(self, node: Node, path: str, impl: Implementation | None = None) -> Any:
        if impl is not None and impl.kind == "event":  # the key is the step's input
            if node.inputs is not None:
                self.problem(f"{path}.inputs", "wait_for_event takes its key from params.key")
            key = node.params.get("key")
            if not isinstance(key, str) or not key:
                return None  # check_params says so
            return self.expr(key, INPUT_VARIABLES, f"{path}.params.key")
        if node.inputs is None:
            return None
        if isinstance(node.inputs, str):
            return self.expr(node.inputs, INPUT_VARIABLES, f"{path}.inputs")
        return {
            name: self.expr(src, INPUT_VARIABLES, f"{path}.inputs.{name}")
            for name, src in node.inputs.items()
        }

    def check_schedule(self) -> None:
        spec = self.bp.schedule
        if spec is None:
            return
        try:
            cron.zone(spec.timezone)
        except cron.ScheduleError as exc:
            self.problem("schedule.timezone", str(exc))
            return
        try:
            cron.check(spec.cron, spec.timezone)
        except cron.ScheduleError as exc:
            self.problem("schedule.cron", str(exc))

    def foreach(self, node: Node, path: str) -> ForEachInfo | None:
        fe = node.config.foreach
        if fe is None:
            return None
        fp = f"{path}.config.foreach"
        window = fe.max_concurrency
        if isinstance(window, int) and window < 1:
            self.problem(f"{fp}.max_concurrency", "must be at least 1 (omit it for no bound)")
        if node.config.join == "any":
            self.problem(fp, "a foreach node cannot have `join: any` (its items need one input)")
        if node.inputs is not None:
            self.problem(fp, "a foreach node takes its items, not `inputs:` (use items' CEL)")
        if not isinstance(fe.items, str):
            return None  # a stand-in: reported
        items = self.expr(fe.items, INPUT_VARIABLES, f"{fp}.items")
        return ForEachInfo(items, window) if items is not None else None

    def check_config(self, node: Node, path: str) -> None:
        cfg = node.config
        if cfg.timeout is not None and cfg.timeout <= 0:
            self.problem(f"{path}.config.timeout", "must be a positive number of seconds")
        r = cfg.retry
        if r is not None:
            rp = f"{path}.config.retry"
            if r.max_attempts < 1:
                self.problem(f"{rp}.max_attempts", "must be at least 1")
            if r.initial_delay < 0 or r.max_delay < 0:
                self.problem(rp, "delays must not be negative")
            if r.multiplier < 1:
                self.problem(f"{rp}.multiplier", "must be at least 1")
            if not 0 <= r.jitter <= 1:
                self.problem(f"{rp}.jitter", "must be between 0 and 1")
        if cfg.fallback is not None and cfg.fallback == node.id:
            self.problem(f"{path}.config.fallback", "a node cannot be its own fallback")
        need = cfg.join.count if isinstance(cfg.join, CountJoin) else 1
        if isinstance(need, int) and need < 1:  # a stand-in (a str) was reported already
            self.problem(f"{path}.config.join.count", "must be at least 1")

    # -- edges ---------------------------------------------------------------------------

    def check_edges(self) -> list[CompiledEdge]:
        compiled: list[CompiledEdge] = []
        seen: dict[tuple[str, str], int] = {}
        for j, e in enumerate(self.bp.edges):
            path = f"edges[{j}]"
            ok = True
            for end in ("source", "target"):
                name = getattr(e, end)
                if name not in self.index:
                    self.problem(f"{path}.{end}", f"unknown node {name!r}{self.hint(name)}")
                    ok = False
            # Edges with an unknown end (or one that did not parse) are not compared.
            pair = (e.source, e.target)
            if ok and pair in seen:
                self.problem(
                    path, f"duplicate edge {e.source} -> {e.target} (first at edges[{seen[pair]}])"
                )
                ok = False
            elif ok:
                seen[pair] = j
            if e.action is not None and not e.action:
                self.problem(f"{path}.action", "must not be empty")
            if e.loop is not None and e.loop.max_iterations < 1:
                self.problem(f"{path}.loop.max_iterations", "must be at least 1")
            cond = (
                self.expr(e.condition, EDGE_VARIABLES, f"{path}.condition") if e.condition else None
            )
            tr = (
                self.expr(e.transform, EDGE_VARIABLES, f"{path}.transform") if e.transform else None
            )
            if ok:
                compiled.append(self.edge(e, cond, tr))
        return compiled

    @staticmethod
    def edge(e: Edge, cond: Expr | None, tr: Expr | None) -> CompiledEdge:
        loop = e.loop
        return CompiledEdge(
            e.source,
            e.target,
            e.action,
            cond,
            tr,
            loop is not None,
            loop.max_iterations if loop is not None else 0,
        )

    def hint(self, name: str) -> str:
        import difflib

        match = difflib.get_close_matches(name, list(self.index), n=1)
        return f" (did you mean {match[0]!r}?)" if match else ""

    # -- graph ---------------------------------------------------------------------------

    def run(self) -> Registry:
        self.check_schedule()
        parts = self.check_nodes()
        edges = self.check_edges()
        forward = [e for e in edges if not e.is_loop]
        back = [e for e in edges if e.is_loop]
        succ: dict[str, list[str]] = defaultdict(list)
        pred: dict[str, list[str]] = defaultdict(list)
        for e in forward:
            succ[e.source].append(e.target)
            pred[e.target].append(e.source)
        tails = [e.source for e in back]
        for t in {t for t in tails if tails.count(t) > 1}:
            self.problem("edges", f"node {t!r} has more than one loop edge")
        fallbacks = self.check_fallbacks(succ, pred, back)
        self.check_count_joins(pred)
        order, cycle = topological_order(self.index, succ, pred)
        if cycle is not None:
            self.problem(
                "edges",
                f"cycle {' -> '.join(cycle)} is not declared as a loop "
                "(mark its back edge with `loop:`)",
            )
            # Without an order, which node runs before which is undefined: only
            # references to unknown nodes can still be checked.
            self.check_unknown_refs(parts)
            raise BlueprintError(self.all_problems())
        loops, loop_problems = find_loops(back, succ, pred, self.index.__getitem__)
        for lp in loop_problems:
            self.problem(f"edges[{self.edge_index(lp.edge)}]", lp.message)
        if not self.all_problems() and not [n for n in order if not pred[n] and n not in fallbacks]:
            self.problem("edges", "no start node: every node has a predecessor")
        # Built even with problems so that ``inputs`` references are checked too:
        # one error lists every problem.
        return self.build(parts, forward, loops, order, fallbacks, succ, pred)

    def edge_index(self, e: CompiledEdge) -> int:
        for j, raw in enumerate(self.bp.edges):
            if raw.source == e.source and raw.target == e.target:
                return j
        return -1

    def check_count_joins(self, pred: dict[str, list[str]]) -> None:
        for nid, i in self.index.items():
            need = _count(self.bp.nodes[i])
            if need > max(len(pred[nid]), 1):
                self.problem(
                    f"nodes[{i}].config.join.count",
                    f"{need} is more than the {len(pred[nid])} predecessor(s) of {nid!r}",
                )

    def check_fallbacks(
        self, succ: dict[str, list[str]], pred: dict[str, list[str]], back: list[CompiledEdge]
    ) -> frozenset[str]:
        names: set[str] = set()
        looped = {e.source for e in back} | {e.target for e in back}
        for i, node in enumerate(self.bp.nodes):
            fb = node.config.fallback
            if fb is None or fb == node.id:
                continue
            path = f"nodes[{i}].config.fallback"
            if fb not in self.index:
                self.problem(path, f"unknown node {fb!r}{self.hint(fb)}")
            elif succ[fb] or pred[fb] or fb in looped:
                self.problem(path, f"fallback node {fb!r} must not have edges")
            else:
                names.add(fb)
        return frozenset(names)

    def build(
        self,
        parts: dict[str, _Parts],
        forward: list[CompiledEdge],
        loops: list[LoopInfo],
        order: list[str],
        fallbacks: frozenset[str],
        succ: dict[str, list[str]],
        pred: dict[str, list[str]],
    ) -> Registry:
        topo = {n: i for i, n in enumerate(order)}
        loop_of = {b: lp for lp in loops for b in lp.body}
        tail_of = {lp.tail: lp for lp in loops}
        out_edges: dict[str, list[CompiledEdge]] = defaultdict(list)
        in_edges: dict[str, dict[str, CompiledEdge]] = defaultdict(dict)
        for e in forward:
            out_edges[e.source].append(e)
            in_edges[e.target][e.source] = e
        head_of = {lp.head: lp for lp in loops}
        nodes_join = {nid: _mode(self.bp.nodes[i]) for nid, i in self.index.items()}
        nodes: dict[str, CompiledNode] = {}
        for nid, i in self.index.items():
            spec = self.bp.nodes[i]
            impl, inputs, fe = parts[nid]
            if impl is None:  # already reported; stands in so the rest is checked
                impl = Implementation(_unresolved, "async")
            own = _exprs(inputs, fe)
            exprs = own + [e.transform for e in in_edges[nid].values() if e.transform]
            route = [e.condition for e in out_edges[nid] if e.condition]
            back_cond = tail_of[nid].back_edge.condition if nid in tail_of else None
            if back_cond is not None:
                route.append(back_cond)
            if fe is not None and _keys(route):
                self.problem(
                    f"nodes[{i}].config.foreach",
                    "the conditions after a foreach node cannot read `context` "
                    "(they see its list and the run input)",
                )
            back_tr = head_of[nid].back_edge.transform if nid in head_of else None
            if back_tr is not None:
                exprs.append(back_tr)
            nodes[nid] = CompiledNode(
                id=nid,
                spec=spec,
                impl=impl,
                params=freeze(spec.params),
                inputs=inputs,
                retry=spec.config.retry,
                timeout=spec.config.timeout,
                fallback=spec.config.fallback,
                join=nodes_join[nid],
                join_count=_count(spec),
                foreach=fe,
                topo=topo[nid],
                preds=tuple(pred[nid]),
                in_edges=MappingProxyType(in_edges[nid]),
                out_edges=tuple(out_edges[nid]),
                loop=loop_of.get(nid),
                ends_run=ends_run(nid, succ, pred, fallbacks, loop_of, nodes_join),
                input_keys=_keys(exprs),
                route_keys=_keys(route),
                output_refs=tuple(dict.fromkeys(r for x in own for r in x.output_refs)),
            )
        registry = Registry(
            blueprint=self.bp,
            nodes=MappingProxyType(nodes),
            start=tuple(n for n in order if not pred[n] and n not in fallbacks),
            end_nodes=tuple(n for n in order if nodes[n].ends_run),
            loops=tuple(loops),
            fallbacks=fallbacks,
            warnings=tuple(self.warnings),
        )
        self.check_output_refs(registry)
        if self.all_problems():
            raise BlueprintError(self.all_problems())
        for n in order:
            if (
                len(nodes) > 1
                and not succ[n]
                and not pred[n]
                and n not in fallbacks
                and n not in tail_of
            ):
                self.warnings.append(f"node {n!r} has no edges; it runs as a start node of its own")
        object.__setattr__(registry, "warnings", tuple(self.warnings))
        return registry

    def check_unknown_refs(self, parts: dict[str, _Parts]) -> None:
        for nid, (_, inputs, fe) in parts.items():
            for ref in dict.fromkeys(r for x in _exprs(inputs, fe) for r in x.output_refs):
                if ref not in self.index:
                    path = f"nodes[{self.index[nid]}].inputs"
                    self.problem(path, f"outputs.{ref}: unknown node{self.hint(ref)}")

    def check_output_refs(self, reg: Registry) -> None:
        for node in reg.nodes.values():
            path = f"nodes[{self.index[node.id]}].inputs"
            for ref in node.output_refs:
                if ref not in reg.nodes:
                    self.problem(path, f"outputs.{ref}: unknown node{self.hint(ref)}")
                    continue
                target = reg.nodes[ref]
                if not reg.is_ancestor(ref, node.id):
                    self.problem(path, f"outputs.{ref}: {ref!r} does not run before {node.id!r}")
                elif (
                    target.loop is not None
                    and target.loop is not node.loop
                    and target.loop.tail != ref
                ):
                    self.problem(
                        path,
                        f"outputs.{ref}: {ref!r} is inside a loop; read the "
                        f"loop's last node {target.loop.tail!r} instead",
                    )


def _mode(node: Node) -> Literal["all", "any", "count"]:
    join = node.config.join
    return "count" if isinstance(join, CountJoin) else join


def _count(node: Node) -> int:
    """The N of a count join, 0 if none (or if it did not parse: a stand-in)."""
    join = node.config.join
    return join.count if isinstance(join, CountJoin) and isinstance(join.count, int) else 0


def _exprs(inputs: Any, fe: ForEachInfo | None = None) -> list[Expr]:
    """The node's own expressions over ``inputs:`` variables (its foreach items too)."""
    own = [fe.items] if fe is not None else []
    if inputs is None:
        return own
    if isinstance(inputs, Expr):
        return [inputs, *own]
    return [x for x in inputs.values() if x is not None] + own


def _keys(exprs: list[Expr]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k for x in exprs for k in x.context_keys))


def compile_blueprint(
    blueprint: Blueprint | Flow, catalog: NodeCatalog | None = None, *, source: str | None = None
) -> Registry:
    """Check a blueprint and compile it into a frozen ``Registry``.

    Raises:
        BlueprintError: listing every problem, each with its path in the document.
    """
    cat = catalog if catalog is not None else default_catalog
    if isinstance(blueprint, Flow):
        merged = NodeCatalog()
        merged.update(cat.functions())
        merged.update(blueprint.functions)
        reading = read_blueprint(blueprint.document())
        return _compile(reading, merged, source or f"flow {blueprint.id!r}")
    if not isinstance(blueprint, Blueprint):
        kind = type(blueprint).__name__
        raise BlueprintError([Problem("", f"expected a Blueprint or a Flow, got {kind}")], source)
    return _compile(Reading(blueprint), cat, source)


def compile_document(
    data: Any,
    catalog: NodeCatalog | None = None,
    *,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Registry:
    """Check a decoded document (a dict, as from YAML or JSON) and compile it.

    Unlike ``compile_blueprint(parse_blueprint(data))``, structural problems do
    not stop the other checks: the error lists them all.
    """
    cat = catalog if catalog is not None else default_catalog
    return _compile(read_blueprint(data, limits), cat, source)


def compile_file(
    path: str | os.PathLike[str],
    catalog: NodeCatalog | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Registry:
    """Read a YAML/JSON blueprint file and compile it, listing every problem at once."""
    data, duplicates = read_document(path, limits)
    cat = catalog if catalog is not None else default_catalog
    return _compile(read_blueprint(data, limits), cat, str(path), duplicates)


def _compile(
    reading: Reading, catalog: NodeCatalog, source: str | None, first: Sequence[Problem] = ()
) -> Registry:
    """Compile what was read; ``first`` are problems found before (duplicate keys),
    which, unlike the reading's, leave a usable value behind."""
    if reading.blueprint is None:
        raise BlueprintError([*first, *reading.problems], source)
    try:
        registry = _Compiler(reading.blueprint, catalog, reading).run()
    except BlueprintError as exc:
        raise BlueprintError([*first, *exc.problems], source) from None
    if first:
        raise BlueprintError(first, source)
    return registry


async def _unresolved(ctx: Any) -> Any:
    raise RuntimeError("unresolvable implementation")


class _AnyCatalog(NodeCatalog):
    """Resolves every name to a stand-in: for reading a blueprint's structure where its
    node code is not importable (a client starting a run)."""

    def lookup(self, name: str) -> Any:
        return _stand_in


async def _stand_in(ctx: Any) -> Any:
    raise RuntimeError("a structural registry cannot run nodes")


def structure_catalog() -> NodeCatalog:
    """A catalog resolving every name to a stand-in: ``compile_document(data,
    structure_catalog())`` checks a document without importing its node code."""
    return _AnyCatalog()


def compile_structure(blueprint: Blueprint) -> Registry:
    """Check and compile a blueprint's structure without importing its node code."""
    return _Compiler(blueprint, _AnyCatalog()).run()
