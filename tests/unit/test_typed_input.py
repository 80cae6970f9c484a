"""Typed node input: ``StepContext[In]`` converts the input with msgspec before the
node runs; a mismatch fails the step once (no retries), naming the field."""

from __future__ import annotations

import dataclasses
import threading
from typing import TypedDict

import msgspec
import pytest

import legato
from legato import StepContext
from legato.runtime.nodes import NodeCatalog
from legato.schemas import StepFailed

RETRIES = legato.Retry(max_attempts=3, initial_delay=0.0, jitter=0.0)


class Order(msgspec.Struct):
    sku: str
    qty: int


@dataclasses.dataclass
class Box:
    width: int
    height: int = 1


class Point(TypedDict):
    x: float
    y: float


seen: list[object] = []


async def total(ctx: StepContext[Order]) -> int:
    seen.append(ctx.input)
    return ctx.input.qty * 10


def area(ctx: StepContext[Box]) -> int:  # sync: runs in a thread, converted the same
    seen.append(ctx.input)
    return ctx.input.width * ctx.input.height


async def norm(ctx: StepContext[Point]) -> float:
    return ctx.input["x"] + ctx.input["y"]


async def untyped(ctx: StepContext) -> object:
    return ctx.input


async def run(flow: legato.Flow, value: object) -> tuple[legato.RunResult, list[StepFailed]]:
    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(flow), value, timeout=10)
        history = await engine.history(result.run_id)
    return result, [e for e in history if isinstance(e, StepFailed)]


async def test_a_struct_dataclass_and_typeddict_input_are_converted() -> None:
    seen.clear()
    result, _ = await run(legato.Flow("o").node("t", total), {"sku": "a", "qty": 3})
    assert (result.status, result.outputs) == ("completed", {"t": 30})
    assert seen == [Order("a", 3)]
    result, _ = await run(legato.Flow("b").node("a", area), {"width": 4})
    assert result.outputs == {"a": 4} and seen[-1] == Box(4, 1)
    result, _ = await run(legato.Flow("p").node("n", norm), {"x": 1.5, "y": 2})
    assert result.outputs == {"n": 3.5}


async def test_a_struct_given_as_the_run_input_passes_as_it_is() -> None:
    result, _ = await run(legato.Flow("o").node("t", total), Order("b", 2))
    assert result.outputs == {"t": 20}


async def test_an_untyped_node_gets_the_input_as_it_is() -> None:
    result, _ = await run(legato.Flow("u").node("u", untyped), {"qty": "many"})
    assert result.outputs == {"u": {"qty": "many"}}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"sku": "a", "qty": "three"}, "Expected `int`, got `str` - at `$.qty`"),
        ({"qty": 3}, "Object missing required field `sku`"),
        ([1, 2], "Expected `object`, got `array`"),
    ],
)
async def test_a_mismatch_fails_the_step_once_naming_the_field(value: object, says: str) -> None:
    calls: list[int] = []

    async def counted(ctx: StepContext[Order]) -> int:
        calls.append(ctx.attempt)
        return 1

    result, failures = await run(legato.Flow("m").node("t", counted, retry=RETRIES), value)
    assert result.status == "failed"
    assert result.error == f"step t failed: input of step t is not a valid Order: {says}"
    assert calls == []  # the node never ran
    [failed] = failures  # one attempt, though three were allowed
    assert (failed.error_type, failed.retry_at) == ("InputValidationError", None)


async def test_a_mismatch_runs_the_fallback() -> None:
    async def rescue(ctx: StepContext) -> str:
        return f"rescued: {ctx.error}"

    flow = legato.Flow("f").node("t", total, fallback="r").node("r", rescue)
    result, _ = await run(flow, {"sku": 1, "qty": 1})
    assert result.status == "completed"
    assert "is not a valid Order" in result.outputs["t"]


def test_an_input_type_msgspec_cannot_convert_to_is_a_blueprint_error() -> None:
    def locked(ctx: StepContext[threading.Lock]) -> None: ...

    with pytest.raises(legato.BlueprintError, match="not a type msgspec can convert"):
        legato.compile(legato.Flow("l").node("l", locked))


def test_the_node_decorator_registers_with_or_without_a_name() -> None:
    catalog = NodeCatalog()

    @catalog.node
    def plain(ctx: StepContext) -> int:
        return 1

    @catalog.node()
    async def called(ctx: StepContext) -> int:
        return 2

    @catalog.node("named.one")
    async def named(ctx: StepContext[Order]) -> int:
        return 3

    assert catalog.functions() == {"plain": plain, "called": called, "named.one": named}
    assert plain.__name__ == "plain"  # returned as it is


def test_an_unresolvable_typed_annotation_is_a_blueprint_error() -> None:
    def unknown(ctx: StepContext[Missing]) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(legato.BlueprintError, match="cannot resolve the annotation"):
        legato.compile(legato.Flow("u").node("u", unknown))
