"""Wrong arguments to the blueprint API are a BlueprintError, not an AttributeError
from deep inside the compiler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import legato
from legato.runtime.compiler import compile_blueprint


async def double(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


DOC = {"id": "d", "nodes": [{"id": "a", "uses": "tests.unit.test_api_input:double"}]}


def test_compile_and_run_take_a_document_or_a_path(tmp_path: Path) -> None:
    assert legato.compile(DOC).start == ("a",)
    assert legato.run_sync(DOC, 4).outputs == {"a": 8}
    f = tmp_path / "d.yaml"
    f.write_text("id: d\nnodes:\n  - {id: a, uses: 'tests.unit.test_api_input:double'}\n")
    assert legato.compile(f).id == "d"
    assert legato.compile(str(f)).id == "d"


@pytest.mark.parametrize("value", [object(), 3, None, ["id", "x"]])
def test_compile_and_run_refuse_other_things_with_a_blueprint_error(value: Any) -> None:
    kind = type(value).__name__
    message = (
        f"cannot compile a value of type {kind}: "
        "expected a Blueprint, a Flow, a mapping or a path"
    )
    with pytest.raises(legato.BlueprintError) as info:
        legato.compile(value)
    assert info.value.problems == (legato.Problem("", message),)
    with pytest.raises(legato.BlueprintError):
        legato.run_sync(value)


def test_compile_blueprint_refuses_a_non_blueprint() -> None:
    with pytest.raises(legato.BlueprintError) as info:
        compile_blueprint(DOC)  # type: ignore[arg-type]
    assert str(info.value.problems[0]) == "expected a Blueprint or a Flow, got dict"


def test_a_flow_with_a_bad_join_fails_when_compiled_not_with_a_validation_error() -> None:
    flow = legato.Flow("f").node("a", double, join="most")
    with pytest.raises(legato.BlueprintError) as info:
        legato.run_sync(flow, 1)
    assert [str(p) for p in info.value.problems] == [
        "nodes[0].config.join: Invalid enum value 'most'"
    ]
