"""The graph the UI draws: layers by longest path, loop back edges left out."""

from __future__ import annotations

import itertools

from legato.schemas import Blueprint, Edge, Loop, Node
from legato.server.views import graph


def test_layers_are_longest_paths_and_ignore_loop_back_edges() -> None:
    bp = Blueprint(
        id="g",
        nodes=tuple(Node(i, "m:f") for i in ("a", "b", "c", "d")),
        edges=(
            Edge("a", "b"),
            Edge("b", "c"),
            Edge("a", "c"),
            Edge("c", "d"),
            Edge("d", "b", loop=Loop(max_iterations=3)),
        ),
    )
    g = graph(bp)
    assert {n["id"]: n["layer"] for n in g["nodes"]} == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert [e["loop"] for e in g["edges"]] == [False, False, False, False, True]


def test_a_long_chain_is_laid_out_without_recursion() -> None:
    ids = [f"n{i}" for i in range(5000)]
    bp = Blueprint(
        id="chain",
        nodes=tuple(Node(i, "m:f") for i in ids),
        edges=tuple(Edge(a, b) for a, b in itertools.pairwise(ids)),
    )
    layers = [n["layer"] for n in graph(bp)["nodes"]]
    assert layers == list(range(5000))
    assert {n["slot"] for n in graph(bp)["nodes"]} == {0}
