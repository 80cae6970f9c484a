"""One pass lists every problem: structure, keys and types do not hide the graph,
expression, ``inputs`` and implementation problems, nor each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import legato
from legato.cli import main
from legato.runtime.errors import BlueprintError

OK = "tests.unit.test_compiler:ok"

MIXED = {
    "id": "m",
    "nodes": [
        {"id": "a", "uses": OK},
        {"id": "a", "uses": OK},
        {"id": "b", "usse": OK},
        {"id": "c", "uses": "nope", "inputs": {"p": 3, "q": "outputs.zz"}},
    ],
    "edges": [
        {"source": "a", "target": "nowhere"},
        {"source": "a", "target": "b", "condition": "output >"},
        {"source": "b", "target": "c"},
    ],
}


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as info:
        legato.compile(data)
    return [(p.path, p.message) for p in info.value.problems]


def test_key_and_type_problems_do_not_hide_the_rest() -> None:
    found = problems(MIXED)
    assert [path for path, _ in found] == [
        "nodes[2].usse",
        "nodes[2].uses",
        "nodes[3].inputs.p",
        "nodes[1].id",
        "nodes[3].uses",
        "edges[0].target",
        "edges[1].condition",
        "nodes[3].inputs",
    ]
    assert found[2] == ("nodes[3].inputs.p", "Expected `str`, got `int`")
    assert found[3] == ("nodes[1].id", "duplicate node id 'a' (first at nodes[0])")
    assert found[5] == ("edges[0].target", "unknown node 'nowhere'")
    assert found[6][1].startswith("invalid expression: Failed to parse expression 'output >'")
    assert found[7] == ("nodes[3].inputs", "outputs.zz: unknown node")


def test_a_value_that_did_not_parse_is_not_reported_again() -> None:
    # b's `uses` is missing: no "unresolvable implementation" on top; the node still
    # exists, so the edges to it are fine.
    found = problems(MIXED)
    assert [m for p, m in found if p == "nodes[2].uses"] == ["required key missing"]
    assert not [p for p, _ in found if p.startswith("edges[2]")]


def test_every_bad_inputs_entry_is_reported() -> None:
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": OK},
            {"id": "b", "uses": OK, "inputs": {"p": 3, "q": [], "r": "outputs.zz"}},
            {"id": "c", "uses": OK, "inputs": {"s": "outputs.yy", "t": "outputs.xx"}},
        ],
        "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}],
    }
    assert problems(data) == [
        ("nodes[1].inputs.p", "Expected `str`, got `int`"),
        ("nodes[1].inputs.q", "Expected `str`, got `array`"),
        ("nodes[1].inputs", "outputs.zz: unknown node"),
        ("nodes[2].inputs", "outputs.yy: unknown node"),
        ("nodes[2].inputs", "outputs.xx: unknown node"),
    ]


def test_a_duplicate_node_is_checked_too() -> None:
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": OK},
            {"id": "a", "uses": "nope", "config": {"timeout": -1}},
        ],
    }
    assert [path for path, _ in problems(data)] == [
        "nodes[1].uses",
        "nodes[1].config.timeout",
        "nodes[1].id",
    ]


def test_a_file_lists_duplicate_keys_structure_and_graph_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "mixed.yaml"
    f.write_text(
        "id: m\n"
        "nodes:\n"
        f"  - {{id: a, uses: '{OK}', id: a}}\n"
        f"  - {{id: b, usse: '{OK}'}}\n"
        "edges:\n"
        "  - {source: a, target: zz}\n"
        "  - {source: a, target: b, condition: 'output >'}\n"
    )
    with pytest.raises(BlueprintError) as info:
        legato.compile(f)
    assert info.value.source == str(f)
    assert [p.path for p in info.value.problems] == [
        "nodes[0].id",
        "nodes[1].usse",
        "nodes[1].uses",
        "edges[0].target",
        "edges[1].condition",
    ]
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"invalid blueprint {f}: 5 problems" in err
    assert "  - nodes[0].id: duplicate key (line 3; first on line 3)" in err


def test_a_flow_lists_its_problems_like_a_file() -> None:
    async def fn(ctx: legato.StepContext) -> int:
        return 1

    flow = (
        legato.Flow("f")
        .node("a", fn, join="x")
        .node("a", fn, params=[1])  # type: ignore[arg-type]
        .edge("a", "zz", loop="yes")  # type: ignore[arg-type]
    )
    with pytest.raises(BlueprintError) as info:
        legato.compile(flow)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("nodes[0].config.join", "Invalid enum value 'x'"),
        ("nodes[1].params", "Expected `object`, got `array`"),
        ("edges[0].loop", "Expected `object | null | bool`, got `str`"),
        ("nodes[1].id", "duplicate node id 'a' (first at nodes[0])"),
        ("edges[0].target", "unknown node 'zz'"),
    ]
    assert str(info.value).startswith("invalid blueprint flow 'f': 5 problems")
    with pytest.raises(BlueprintError):
        flow.blueprint()


def test_an_undeclared_cycle_does_not_hide_unknown_inputs_references() -> None:
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": OK},
            {"id": "b", "uses": OK, "inputs": "outputs.zz"},
        ],
        "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}],
    }
    assert problems(data) == [
        ("edges", "cycle a -> b -> a is not declared as a loop (mark its back edge with `loop:`)"),
        ("nodes[1].inputs", "outputs.zz: unknown node"),
    ]
