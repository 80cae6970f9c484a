"""Reading blueprint files within limits: duplicate keys, alias bombs, deep nesting,
huge files and bad encodings are problems with a path, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from legato.runtime.blueprint import load_blueprint, parse_blueprint
from legato.runtime.errors import BlueprintError
from legato.runtime.limits import DEFAULT_LIMITS, Limits

OK = "tests.unit.test_compiler:ok"
HEAD = f"id: x\nnodes:\n  - {{id: a, uses: '{OK}'}}\n"


def problems_of(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as info:
        load_blueprint(path, limits=limits)
    assert info.value.source == str(path)
    return [(p.path, p.message) for p in info.value.problems]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_duplicate_yaml_keys_are_problems_with_their_lines(tmp_path: Path) -> None:
    text = (
        "id: x\n"
        "nodes:\n"
        f"  - id: a\n    uses: '{OK}'\n    id: b\n"
        "id: y\n"
        "metadata: {owner: me, owner: you}\n"
    )
    assert problems_of(write(tmp_path, "dup.yaml", text)) == [
        ("nodes[0].id", "duplicate key (line 5; first on line 3)"),
        ("metadata.owner", "duplicate key (line 7; first on line 7)"),
        ("id", "duplicate key (line 6; first on line 1)"),
    ]


def test_keys_merged_with_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    text = (
        "id: x\n"
        "nodes:\n"
        f"  - &base {{id: a, uses: '{OK}', params: {{n: 1}}}}\n"
        "  - {<<: *base, id: b}\n"
    )
    bp = load_blueprint(write(tmp_path, "merge.yaml", text))
    assert [(n.id, n.params) for n in bp.nodes] == [("a", {"n": 1}), ("b", {"n": 1})]


def test_duplicate_json_keys_are_problems(tmp_path: Path) -> None:
    text = (
        '{"id": "x", "nodes": [{"id": "a", "uses": "OK", "params": {"n": 1, "n": 2}}],'
        ' "edges": [], "edges": []}'
    ).replace("OK", OK)
    assert problems_of(write(tmp_path, "dup.json", text)) == [
        ("edges", "duplicate key"),
        ("nodes[0].params.n", "duplicate key"),
    ]


# Under 600 bytes that expand to 9**9 strings if anything walks them.
BOMB = HEAD + (
    "metadata:\n"
    '  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
)


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    assert len(BOMB) < 600
    [(path, message)] = problems_of(write(tmp_path, "bomb.yaml", BOMB))
    assert path.startswith("metadata.")
    assert message == "aliases expand to more than 10000 values (Limits.aliases)"


def test_modest_aliases_are_fine_and_the_limit_is_a_setting(tmp_path: Path) -> None:
    text = (
        "id: x\nnodes:\n"
        f"  - {{id: a, uses: '{OK}', config: {{retry: &r {{max_attempts: 5}}}}}}\n"
        f"  - {{id: b, uses: '{OK}', config: {{retry: *r}}}}\n"
        "metadata: {shared: &s [1, 2, 3], again: *s, more: *s}\n"
    )
    path = write(tmp_path, "aliases.yaml", text)
    bp = load_blueprint(path)
    assert bp.nodes[1].config.retry == bp.nodes[0].config.retry
    assert bp.metadata["more"] == [1, 2, 3]
    # The retry alias adds 2 values (a mapping and its one entry), each list alias 4.
    assert problems_of(path, Limits(aliases=6)) == [
        ("metadata.more", "aliases expand to more than 6 values (Limits.aliases)")
    ]


def test_a_recursive_alias_is_a_problem(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "rec.yaml", HEAD + "metadata: &m {self: *m}\n")) == [
        ("metadata.self", "contains itself (a recursive alias)")
    ]


def test_deep_nesting_is_refused_before_the_readers_recurse(tmp_path: Path) -> None:
    deep_json = {"id": "x", "nodes": [{"id": "a", "uses": OK}], "metadata": 0}
    text = json.dumps(deep_json).replace('"metadata": 0', '"metadata": ' + "[" * 5000 + "]" * 5000)
    assert problems_of(write(tmp_path, "deep.json", text)) == [
        ("", "nested more than 100 levels deep (line 1)")
    ]
    yaml_text = HEAD + "metadata:\n  k: " + "[" * 5000 + "]" * 5000 + "\n"
    assert problems_of(write(tmp_path, "deep.yaml", yaml_text)) == [
        ("metadata.k[0]", "nested more than 100 levels deep (line 5)")
    ]
    nested: Any = 1
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(BlueprintError) as info:
        parse_blueprint({"id": "x", "nodes": [{"id": "a", "uses": OK, "params": {"p": nested}}]})
    assert [(p.path, p.message) for p in info.value.problems] == [
        ("nodes[0].params", "nested more than 100 levels deep")
    ]


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    # The document is level 1, metadata level 2: 98 more lists reach 100.
    text = HEAD + "metadata:\n  k: " + "[" * 98 + "]" * 98 + "\n"
    path = write(tmp_path, "ok.yaml", text)
    assert load_blueprint(path).metadata["k"] is not None
    assert problems_of(path, Limits(depth=99)) == [
        ("metadata.k[0]", "nested more than 99 levels deep (line 5)")
    ]


def test_large_files_and_bad_encodings(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", HEAD + "metadata: {pad: '" + "x" * 200 + "'}\n")
    assert load_blueprint(path).id == "x"
    assert problems_of(path, Limits(document_bytes=100)) == [
        ("", "the file is larger than 100 bytes (Limits.document_bytes)")
    ]
    before = HEAD.encode() + b"metadata: {name: caf"
    latin = write(tmp_path, "latin.yaml", before + b"\xe9}\n")
    assert problems_of(latin) == [
        ("", f"not UTF-8 text: invalid continuation byte at byte {len(before)}")
    ]
