"""Invalid blueprints: the exact list of problems, each with its path; files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import legato
from legato.runtime.blueprint import load_blueprint, parse_blueprint
from legato.runtime.compiler import compile_blueprint
from legato.runtime.errors import BlueprintError

OK = "tests.unit.test_compiler:ok"


async def ok(ctx: legato.StepContext) -> int:
    return 1


def nodes(*ids: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": i, "uses": OK, **extra.get(i, {})} for i in ids]


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "target": target, **extra}


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as info:
        legato.compile(data)
    return [(p.path, p.message) for p in info.value.problems]


def test_unknown_keys_at_every_level_with_suggestions() -> None:
    # Problems come in the order of the document.
    data = {
        "id": "x",
        "nodez": [],
        "nodes": [
            {
                "id": "a",
                "uses": OK,
                "usse": 1,
                "config": {"retyr": {}, "retry": {"max_attempt": 2}, "timout": 1},
            }
        ],
        "edges": [edge("a", "a", condtion="true", loop={"max_iter": 3}), {"sauce": "a"}],
    }
    assert problems(data) == [
        ("nodez", "unknown key (did you mean 'nodes'?)"),
        ("nodes[0].usse", "unknown key (did you mean 'uses'?)"),
        ("nodes[0].config.retyr", "unknown key (did you mean 'retry'?)"),
        ("nodes[0].config.retry.max_attempt", "unknown key (did you mean 'max_attempts'?)"),
        ("nodes[0].config.timout", "unknown key (did you mean 'timeout'?)"),
        ("edges[0].condtion", "unknown key (did you mean 'condition'?)"),
        ("edges[0].loop.max_iter", "unknown key (did you mean 'max_iterations'?)"),
        ("edges[1].sauce", "unknown key (did you mean 'source'?)"),
        ("edges[1].source", "required key missing"),
        ("edges[1].target", "required key missing"),
    ]


def test_an_unknown_key_without_a_close_match_lists_the_known_keys() -> None:
    data = {"id": "x", "nodes": nodes("a"), "zzzzzz": 1}
    assert problems(data) == [
        ("zzzzzz", "unknown key; known keys: id, nodes, edges, version, metadata, schedule")
    ]


def test_wrong_types_are_all_reported() -> None:
    data = {
        "id": 3,
        "version": [1],
        "metadata": 2,
        "nodes": [
            {
                "id": "a",
                "uses": 5,
                "params": [],
                "config": {"timeout": "x", "join": "some", "retry": {"max_attempts": "two"}},
            }
        ],
        "edges": "x",
    }
    assert problems(data) == [
        ("id", "Expected `str`, got `int`"),
        ("version", "Expected `str | number`, got `array`"),
        ("metadata", "Expected `object`, got `int`"),
        ("nodes[0].uses", "Expected `str`, got `int`"),
        ("nodes[0].params", "Expected `object`, got `array`"),
        ("nodes[0].config.timeout", "Expected `float | null`, got `str`"),
        ("nodes[0].config.join", "Invalid enum value 'some'"),
        ("nodes[0].config.retry.max_attempts", "Expected `int`, got `str`"),
        ("edges", "Expected `array`, got `str`"),
    ]


def test_missing_id_and_nodes_and_node_fields() -> None:
    assert problems({"version": "1"}) == [
        ("id", "required key missing"),
        ("nodes", "required key missing"),
    ]
    assert problems({"id": "x", "nodes": [{"uses": OK}, {"id": "b"}, 3]}) == [
        ("nodes[0].id", "required key missing"),
        ("nodes[1].uses", "required key missing"),
        ("nodes[2]", "Expected `object`, got `int`"),
    ]
    assert problems({"id": "x", "nodes": []}) == [("nodes", "a blueprint needs at least one node")]
    with pytest.raises(BlueprintError) as info:
        parse_blueprint([1])
    assert info.value.problems == (legato.Problem("", "a blueprint must be a mapping"),)


def test_duplicate_ids_unknown_endpoints_duplicate_edges_bad_ids() -> None:
    data = {
        "id": "x",
        "nodes": [*nodes("a", "a", "b"), {"id": "a b", "uses": OK}],
        "edges": [edge("a", "b"), edge("a", "b"), edge("aa", "bx")],
    }
    assert problems(data) == [
        ("nodes[1].id", "duplicate node id 'a' (first at nodes[0])"),
        ("nodes[3].id", "invalid node id 'a b' (letters, digits, _ . -)"),
        ("edges[1]", "duplicate edge a -> b (first at edges[0])"),
        ("edges[2].source", "unknown node 'aa' (did you mean 'a'?)"),
        ("edges[2].target", "unknown node 'bx' (did you mean 'b'?)"),
    ]


def test_unresolvable_uses() -> None:
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": "no_such_module_zz:f"},
            {"id": "b", "uses": "math:nope"},
            {"id": "c", "uses": "math:pi"},
            {"id": "d", "uses": "not_registered"},
        ],
        "edges": [edge("a", "b"), edge("b", "c"), edge("c", "d")],
    }
    assert problems(data) == [
        (
            "nodes[0].uses",
            "unresolvable implementation: cannot import module 'no_such_module_zz': "
            "No module named 'no_such_module_zz'",
        ),
        ("nodes[1].uses", "unresolvable implementation: module 'math' has no attribute 'nope'"),
        ("nodes[2].uses", "unresolvable implementation: 'math:pi' is not callable"),
        (
            "nodes[3].uses",
            "unresolvable implementation: 'not_registered' is not a registered node name "
            "and not of the form 'package.module:function'",
        ),
    ]


def test_a_module_that_raises_when_imported_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "raises_zz.py").write_text("x = 1\nraise ValueError('no config')\n")
    (tmp_path / "exits_zz.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "syntax_zz.py").write_text("def f(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": "raises_zz:f"},
            {"id": "b", "uses": "exits_zz:f"},
            {"id": "c", "uses": "syntax_zz:f"},
        ],
        "edges": [edge("a", "b"), edge("b", "c")],
    }
    assert problems(data) == [
        (
            "nodes[0].uses",
            "unresolvable implementation: cannot import module 'raises_zz': "
            f"it raised ValueError: no config (at {tmp_path / 'raises_zz.py'}:2)",
        ),
        (
            "nodes[1].uses",
            "unresolvable implementation: cannot import module 'exits_zz': "
            f"it raised SystemExit: 3 (at {tmp_path / 'exits_zz.py'}:2)",
        ),
        (
            "nodes[2].uses",
            "unresolvable implementation: cannot import module 'syntax_zz': "
            "it raised SyntaxError: invalid syntax (syntax_zz.py, line 1)",
        ),
    ]


def test_a_class_without_exec_is_unresolvable() -> None:
    data = {"id": "x", "nodes": [{"id": "a", "uses": "tests.unit.test_compiler:NoExec"}]}
    assert problems(data) == [
        ("nodes[0].uses", "unresolvable implementation: class NoExec has no exec() method")
    ]


class NoExec:
    def prep(self, ctx: Any) -> Any:
        return ctx


def test_undeclared_cycle() -> None:
    data = {"id": "x", "nodes": nodes("a", "b", "c"), "edges": [edge("a", "b"), edge("b", "c")]}
    data["edges"].append(edge("c", "b"))
    assert problems(data) == [
        ("edges", "cycle b -> c -> b is not declared as a loop (mark its back edge with `loop:`)")
    ]


def test_a_cycle_with_an_edge_out_of_it_to_a_node_that_sorts_first() -> None:
    # b is downstream of the cycle, so it is left unordered too, and sorts first.
    data = {
        "id": "x",
        "nodes": nodes("s", "x", "y", "b"),
        "edges": [edge("s", "x"), edge("x", "y"), edge("y", "x"), edge("y", "b")],
    }
    assert problems(data) == [
        ("edges", "cycle x -> y -> x is not declared as a loop (mark its back edge with `loop:`)")
    ]


def test_bad_loop_edges() -> None:
    forward = {"id": "x", "nodes": nodes("a", "b", "c")}
    forward["edges"] = [edge("a", "b"), edge("b", "c", loop=True)]
    assert problems(forward) == [("edges[1]", "loop edge b -> c must go back to a node before b")]
    crossing = {
        "id": "x",
        "nodes": nodes("s", "a", "b", "c", "z"),
        "edges": [
            edge("s", "a"),
            edge("a", "b"),
            edge("b", "c"),
            edge("c", "a", loop=True),
            edge("s", "b"),
            edge("b", "z"),
        ],
    }
    assert problems(crossing) == [
        ("edges[3]", "edge s -> b enters the loop body other than at its first node 'a'"),
        ("edges[3]", "edge b -> z leaves the loop body other than from its last node 'c'"),
    ]
    overlap = {
        "id": "x",
        "nodes": nodes("a", "b", "c"),
        "edges": [
            edge("a", "b"),
            edge("b", "c"),
            edge("c", "a", loop=True),
            edge("b", "a", loop=True),
        ],
    }
    assert problems(overlap) == [
        ("edges[3]", "loops overlap at node 'a' (nested loops are not supported)"),
        ("edges[3]", "loops overlap at node 'b' (nested loops are not supported)"),
    ]
    two = {
        "id": "x",
        "nodes": nodes("a", "b"),
        "edges": [edge("a", "b"), edge("b", "a", loop=True), edge("b", "b", loop={})],
    }
    assert problems(two) == [
        ("edges", "node 'b' has more than one loop edge"),
        ("edges[2]", "loops overlap at node 'b' (nested loops are not supported)"),
    ]
    zero = {"id": "x", "nodes": nodes("a"), "edges": [edge("a", "a", loop={"max_iterations": 0})]}
    assert problems(zero) == [("edges[0].loop.max_iterations", "must be at least 1")]


def test_expression_problems() -> None:
    data = {
        "id": "x",
        "nodes": nodes("a", "b", "c", "d", "e", "f"),
        "edges": [
            edge("a", "b", condition="output >"),
            edge("a", "c", condition="outptu > 1"),
            edge("a", "d", transform="frob(output)"),
            edge("a", "e", condition="context[output] == 1"),
            edge("a", "f", condition="  ", action=""),
        ],
    }
    found = problems(data)
    assert found[0][0] == "edges[0].condition"
    assert found[0][1].startswith(
        "invalid expression: Failed to parse expression 'output >': ERROR: <input>:1:9: "
        "Syntax error: mismatched input '<EOF>'"
    )
    assert found[1:] == [
        (
            "edges[1].condition",
            "invalid expression: unknown variable(s) outptu; "
            "available: context, input, iteration, output",
        ),
        ("edges[2].transform", "invalid expression: unknown function(s) frob"),
        (
            "edges[3].condition",
            "invalid expression: 'context' must be read with static keys "
            "(context.key or context['key'])",
        ),
        ("edges[4].action", "must not be empty"),
        ("edges[4].condition", "invalid expression: expression is empty"),
    ]


def test_inputs_problems() -> None:
    data = {
        "id": "x",
        "nodes": [
            *nodes("a", "b"),
            {"id": "c", "uses": OK, "inputs": "outputs.b"},
            {
                "id": "d",
                "uses": OK,
                "inputs": {"x": "outputs.l1", "y": "outputs.zz", "z": "output"},
            },
            {"id": "e", "uses": OK, "inputs": "outputs[input.which]"},
            *nodes("l1", "l2"),
        ],
        "edges": [
            edge("a", "c"),
            edge("a", "b"),
            edge("a", "l1"),
            edge("l1", "l2"),
            edge("l2", "l1", loop=True),
            edge("l2", "d"),
            edge("d", "e"),
        ],
    }
    assert problems(data) == [
        (
            "nodes[3].inputs.z",
            "invalid expression: unknown variable(s) output; "
            "available: context, input, iteration, outputs",
        ),
        (
            "nodes[4].inputs",
            "invalid expression: 'outputs' must be read with static keys "
            "(outputs.key or outputs['key'])",
        ),
        ("nodes[2].inputs", "outputs.b: 'b' does not run before 'c'"),
        (
            "nodes[3].inputs",
            "outputs.l1: 'l1' is inside a loop; read the loop's last node 'l2' instead",
        ),
        ("nodes[3].inputs", "outputs.zz: unknown node"),
    ]


def test_fallback_problems() -> None:
    data = {
        "id": "x",
        "nodes": nodes(
            "a",
            "b",
            "c",
            "fb",
            a={"config": {"fallback": "fbb"}},
            b={"config": {"fallback": "b"}},
            c={"config": {"fallback": "a"}},
        ),
        "edges": [edge("a", "b"), edge("b", "c")],
    }
    assert problems(data) == [
        ("nodes[1].config.fallback", "a node cannot be its own fallback"),
        ("nodes[0].config.fallback", "unknown node 'fbb' (did you mean 'fb'?)"),
        ("nodes[2].config.fallback", "fallback node 'a' must not have edges"),
    ]


def test_invalid_config_values() -> None:
    retry = {"max_attempts": 0, "initial_delay": -1, "multiplier": 0.5, "jitter": 2}
    data = {
        "id": "x",
        "nodes": nodes(
            "a", "b", a={"config": {"timeout": 0, "retry": retry}}, b={"config": {"timeout": -3}}
        ),
        "edges": [edge("a", "b")],
    }
    assert problems(data) == [
        ("nodes[0].config.timeout", "must be a positive number of seconds"),
        ("nodes[0].config.retry.max_attempts", "must be at least 1"),
        ("nodes[0].config.retry", "delays must not be negative"),
        ("nodes[0].config.retry.multiplier", "must be at least 1"),
        ("nodes[0].config.retry.jitter", "must be between 0 and 1"),
        ("nodes[1].config.timeout", "must be a positive number of seconds"),
    ]
    joins = {"id": "x", "nodes": nodes("a", a={"config": {"join": "most"}})}
    assert problems(joins) == [("nodes[0].config.join", "Invalid enum value 'most'")]


def test_no_start_node() -> None:
    data = {
        "id": "x",
        "nodes": nodes("a", "b", a={"config": {"fallback": "b"}}, b={"config": {"fallback": "a"}}),
    }
    assert problems(data) == [("edges", "no start node: every node has a predecessor")]


def test_several_problems_are_reported_at_once() -> None:
    data = {
        "id": "x",
        "nodes": [
            {"id": "a", "uses": OK, "config": {"timeout": 0, "fallback": "zz"}},
            {"id": "a", "uses": OK},
            {"id": "b", "uses": "nope"},
            {"id": "c", "uses": OK, "inputs": {"b": "outputs.b", "f": "frob(input)"}},
        ],
        "edges": [
            edge("a", "b", condition="size(outptu) > 0"),
            edge("a", "q"),
            edge("a", "c"),
        ],
    }
    assert problems(data) == [
        ("nodes[0].config.timeout", "must be a positive number of seconds"),
        ("nodes[1].id", "duplicate node id 'a' (first at nodes[0])"),
        (
            "nodes[2].uses",
            "unresolvable implementation: 'nope' is not a registered node name "
            "and not of the form 'package.module:function'",
        ),
        ("nodes[3].inputs.f", "invalid expression: unknown function(s) frob"),
        (
            "edges[0].condition",
            "invalid expression: unknown variable(s) outptu; "
            "available: context, input, iteration, output",
        ),
        ("edges[1].target", "unknown node 'q'"),
        ("nodes[0].config.fallback", "unknown node 'zz'"),
        ("nodes[3].inputs", "outputs.b: 'b' does not run before 'c'"),
    ]


def test_the_error_message_lists_every_problem_with_the_source() -> None:
    err = BlueprintError(
        [legato.Problem("nodes[0].id", "bad"), legato.Problem("edges", "worse")], "f.yaml"
    )
    assert str(err) == (
        "invalid blueprint f.yaml: 2 problems:\n  - nodes[0].id: bad\n  - edges: worse"
    )


def test_nodes_without_edges_are_warnings() -> None:
    data = {"id": "x", "nodes": nodes("a", "b", "c"), "edges": [edge("a", "b")]}
    reg = compile_blueprint(parse_blueprint(data))
    assert reg.warnings == ("node 'c' has no edges; it runs as a start node of its own",)
    assert reg.start == ("a", "c")
    single = compile_blueprint(parse_blueprint({"id": "y", "nodes": nodes("a")}))
    assert single.warnings == ()


YAML_TEXT = f"""\
id: files
version: 2
nodes:
  - id: a
    uses: {OK}
  - id: b
    uses: {OK}
    config: {{retry: {{max_attempts: 2}}, join: any}}
edges:
  - {{source: a, target: b, condition: "output > 0"}}
"""


def test_yaml_and_json_files_load_to_the_same_blueprint(tmp_path: Path) -> None:
    y = tmp_path / "flow.yaml"
    y.write_text(YAML_TEXT)
    from_yaml = load_blueprint(y)
    j = tmp_path / "flow.json"
    import yaml

    j.write_text(json.dumps(yaml.safe_load(YAML_TEXT)))
    assert load_blueprint(j) == from_yaml
    assert from_yaml.version == "2"
    assert from_yaml.nodes[1].config.retry == legato.Retry(max_attempts=2)
    reg = legato.compile(str(y))
    assert (reg.id, reg.start, reg.nodes["b"].join) == ("files", ("a",), "any")


def test_invalid_files_name_the_file(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("id: x\nnodes: [\n")
    with pytest.raises(BlueprintError) as info:
        load_blueprint(bad_yaml)
    assert info.value.source == str(bad_yaml)
    [problem] = info.value.problems
    assert problem.path == "" and problem.message.startswith("not valid YAML: ")
    assert str(bad_yaml) in str(info.value)

    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"id": "x", ')
    with pytest.raises(BlueprintError) as info:
        load_blueprint(bad_json)
    assert info.value.source == str(bad_json)
    assert info.value.problems[0].message.startswith("not valid JSON: ")

    with pytest.raises(BlueprintError) as info:
        load_blueprint(tmp_path / "missing.yaml")
    assert info.value.problems[0].message == "cannot read file: No such file or directory"

    typo = tmp_path / "typo.yaml"
    typo.write_text(YAML_TEXT.replace("uses:", "usse:", 1))
    with pytest.raises(BlueprintError) as info:
        legato.compile(str(typo))
    assert info.value.source == str(typo)
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("nodes[0].usse", "unknown key (did you mean 'uses'?)"),
        ("nodes[0].uses", "required key missing"),
    ]


def test_compile_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    f = tmp_path / "cyc.yaml"
    f.write_text(YAML_TEXT + "  - {source: b, target: a}\n")
    with pytest.raises(BlueprintError) as info:
        legato.compile(str(f))
    assert info.value.source == str(f)
    assert [p.path for p in info.value.problems] == ["edges"]
