"""Random valid blueprint documents, and known problems to inject into them.

Each injection adds nodes or edges of its own (so that injections do not step
on each other) and says where its problem must be reported. Paths are worked
out once the items are in their final, shuffled places.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

OK = "tests.property.broken:ok"
CONDITIONS = ["output > 1", "input != null", "size(string(output)) > 0"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)


async def ok(ctx: Any) -> int:
    return 1


@dataclass
class Expected:
    """A problem that must be reported: at ``item``'s path plus ``suffix`` (or at
    ``path`` when it is not about one item), with ``text`` in its message."""

    text: str
    item: dict[str, Any] | None = None
    suffix: str = ""
    path: str | None = None
    later_of: str | None = None  # a duplicate id: the later node with it is reported


@dataclass
class Draft:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    expected: list[Expected] = field(default_factory=list)
    fresh: int = 0

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    def node(self, **fields: Any) -> dict[str, Any]:
        item = {"id": self.name("z"), "uses": OK, **fields}
        self.nodes.append(item)
        return item

    def edge(self, source: str, target: str, **fields: Any) -> dict[str, Any]:
        item = {"source": source, "target": target, **fields}
        self.edges.append(item)
        return item

    def expect(self, text: str, item: dict[str, Any] | None = None, suffix: str = "") -> None:
        self.expected.append(Expected(text, item, suffix))


@st.composite
def valid_drafts(draw: st.DrawFn) -> Draft:
    size = draw(st.integers(1, 6))
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    preds: dict[int, list[int]] = {j: [] for j in range(size)}
    for j in range(1, size):
        for i in sorted(draw(st.sets(st.integers(0, j - 1), max_size=2))):
            edge: dict[str, Any] = {"source": f"n{i}", "target": f"n{j}"}
            if draw(st.booleans()):
                edge["condition"] = draw(st.sampled_from(CONDITIONS))
            edges.append(edge)
            preds[j].append(i)
    for j in range(size):
        node: dict[str, Any] = {"id": f"n{j}", "uses": OK}
        if draw(st.booleans()):
            node["params"] = draw(st.dictionaries(st.text(max_size=3), JSON, max_size=2))
        if preds[j] and draw(st.booleans()):
            node["inputs"] = {"x": f"outputs.n{draw(st.sampled_from(preds[j]))}"}
        if draw(st.booleans()):
            node["config"] = {"join": draw(st.sampled_from(["all", "any"]))}
        nodes.append(node)
    return Draft(nodes, edges)


def unknown_key(d: Draft) -> None:
    d.expect("unknown key (did you mean 'uses'?)", d.node(usse=OK), ".usse")


def unknown_config_key(d: Draft) -> None:
    item = d.node(config={"timout": 1})
    d.expect("unknown key (did you mean 'timeout'?)", item, ".config.timout")


def wrong_type(d: Draft) -> None:
    d.expect("Expected `float | null`, got `str`", d.node(config={"timeout": "soon"}),
             ".config.timeout")  # fmt: skip


def wrong_id_type(d: Draft) -> None:
    item = d.node()
    item["id"] = 3
    d.expect("Expected `str`, got `int`", item, ".id")


def wrong_params_type(d: Draft) -> None:
    d.expect("Expected `object`, got `array`", d.node(params=[1]), ".params")


def missing_target(d: Draft) -> None:
    item = d.edge("n0", "")
    del item["target"]
    d.expect("required key missing", item, ".target")


def duplicate_id(d: Draft) -> None:
    d.nodes.append({"id": "n0", "uses": OK})
    d.expected.append(Expected("duplicate node id 'n0'", later_of="n0"))


def bad_id(d: Draft) -> None:
    item = d.node()
    item["id"] = d.name("bad id ")
    d.expect("invalid node id", item, ".id")


def unknown_edge_end(d: Draft) -> None:
    d.expect("unknown node 'ghost", d.edge("n0", d.name("ghost")), ".target")


def bad_condition(d: Draft) -> None:
    target = d.node()
    d.expect("invalid expression", d.edge("n0", target["id"], condition="output >"), ".condition")


def unknown_variable(d: Draft) -> None:
    item = d.node(inputs={"x": "outptu.n0"})
    d.expect("invalid expression: unknown variable(s) outptu", item, ".inputs.x")


def bad_inputs_type(d: Draft) -> None:
    d.expect("Expected `str`, got `int`", d.node(inputs={"x": 3}), ".inputs.x")


def unknown_inputs_ref(d: Draft) -> None:
    ghost = d.name("ghost")
    d.expect(f"outputs.{ghost}: unknown node", d.node(inputs={"x": f"outputs.{ghost}"}), ".inputs")


def unresolvable_uses(d: Draft) -> None:
    d.expect("unresolvable implementation", d.node(uses="no_such_module_zz:f"), ".uses")


def negative_timeout(d: Draft) -> None:
    d.expect("must be a positive number", d.node(config={"timeout": -1}), ".config.timeout")


def unknown_fallback(d: Draft) -> None:
    item = d.node(config={"fallback": d.name("ghost")})
    d.expect("unknown node 'ghost", item, ".config.fallback")


def zero_loop_limit(d: Draft) -> None:
    z = d.node()
    item = d.edge(z["id"], z["id"], loop={"max_iterations": 0})
    d.expect("must be at least 1", item, ".loop.max_iterations")


def undeclared_cycle(d: Draft) -> None:
    a, b = d.node(), d.node()
    d.edge(a["id"], b["id"])
    d.edge(b["id"], a["id"])
    d.expected.append(Expected("is not declared as a loop", path="edges"))


INJECTIONS: list[Callable[[Draft], None]] = [
    unknown_key,
    unknown_config_key,
    wrong_type,
    wrong_id_type,
    wrong_params_type,
    missing_target,
    duplicate_id,
    bad_id,
    unknown_edge_end,
    bad_condition,
    unknown_variable,
    bad_inputs_type,
    unknown_inputs_ref,
    unresolvable_uses,
    negative_timeout,
    unknown_fallback,
    zero_loop_limit,
    undeclared_cycle,
]


@dataclass(frozen=True)
class Broken:
    document: dict[str, Any]
    expected: frozenset[tuple[str, str]]  # (path, text in the message)
    injected: tuple[str, ...]


@st.composite
def broken_blueprints(draw: st.DrawFn, max_injections: int = 4) -> Broken:
    draft = draw(valid_drafts())
    injected = draw(st.lists(st.sampled_from(INJECTIONS), max_size=max_injections))
    for inject in injected:
        inject(draft)
    nodes = draw(st.permutations(draft.nodes))
    edges = draw(st.permutations(draft.edges))

    def where(item: dict[str, Any]) -> str:
        for key, items in (("nodes", nodes), ("edges", edges)):
            for i, other in enumerate(items):
                if other is item:
                    return f"{key}[{i}]"
        raise AssertionError("an injected item is missing")

    expected = []
    for e in draft.expected:
        if e.later_of is not None:
            # Every node with the id but the first is reported, however many there are.
            later = [i for i, n in enumerate(nodes) if n["id"] == e.later_of][1:]
            expected.extend((f"nodes[{i}].id", e.text) for i in later)
        elif e.item is not None:
            expected.append((where(e.item) + e.suffix, e.text))
        else:
            assert e.path is not None
            expected.append((e.path, e.text))
    doc = {"id": "broken", "nodes": list(nodes), "edges": list(edges)}
    return Broken(doc, frozenset(expected), tuple(f.__name__ for f in injected))
