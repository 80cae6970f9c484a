"""What a node sees (``ctx``), the context visibility rule, output limits, and the
kinds of node implementation."""

from __future__ import annotations

import asyncio
import operator
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

import legato
import legato.testing
from legato.adapters.memory import MemoryRunStore
from legato.schemas import ContextWrite, StepCompleted, StepFailed, StepRecord, StepSkipped

FAST = legato.Retry(max_attempts=2, initial_delay=0.01, jitter=0.0)


async def run(flow: legato.Flow, value: Any = None, **kwargs: Any) -> legato.RunResult:
    async with legato.Engine(**kwargs) as engine:
        return await engine.run(legato.compile(flow), value, timeout=10)


async def test_ctx_fields() -> None:
    seen: list[dict[str, Any]] = []

    async def look(ctx: legato.StepContext) -> int:
        errors = []
        for mutate in (
            lambda: operator.setitem(ctx.params, "n", 2),
            lambda: operator.setitem(ctx.params["nested"], "k", 0),
            lambda: ctx.params["items"].append(4),
        ):
            try:
                mutate()
            except (TypeError, AttributeError) as exc:
                errors.append(type(exc).__name__)
        seen.append(
            {
                "run_id": ctx.run_id,
                "step_id": ctx.step_id,
                "node_id": ctx.node_id,
                "attempt": ctx.attempt,
                "iteration": ctx.iteration,
                "params": (ctx.params["n"], dict(ctx.params["nested"]), ctx.params["items"]),
                "errors": errors,
            }
        )
        if ctx.attempt == 1:
            raise legato.StepError("again")
        return ctx.iteration

    params = {"n": 1, "nested": {"k": 1}, "items": [1, 2, 3]}
    flow = legato.Flow("ctx").node("a", look, params=params, retry=FAST)
    result = await run(flow)
    assert result.status == "completed"
    common = {
        "run_id": result.run_id,
        "step_id": "a",
        "node_id": "a",
        "iteration": 0,
        "params": (1, {"k": 1}, (1, 2, 3)),
        "errors": ["TypeError", "TypeError", "AttributeError"],
    }
    assert seen == [{**common, "attempt": 1}, {**common, "attempt": 2}]


class HookStore(MemoryRunStore):
    """Sets an event when a step is resolved, so tests can order branches exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.resolved: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
        consume: tuple[str, str] | None = None,
    ) -> StepRecord:
        out = await super().resolve_step(
            run_id, step_id, record, event, context, fence, consume=consume
        )
        self.resolved[step_id].set()
        return out


def hooked_engine() -> tuple[legato.Engine, HookStore]:
    store = HookStore()
    return legato.Engine(legato.testing.backend(store=store)), store


@pytest.mark.parametrize("first", ["a", "b"])
async def test_the_context_rule_with_concurrent_branches(first: str) -> None:
    """a and b run in parallel and both write ``k``. Whichever finishes first: c (after
    a) sees only a's write, the join sees the later branch in the blueprint's order (b),
    both writes are kept, and the final context is the same."""
    engine, store = hooked_engine()
    seen: dict[str, Any] = {}

    def writer(name: str, other: str) -> Any:
        async def fn(ctx: legato.StepContext) -> str:
            if first != name:
                await store.resolved[other].wait()
            ctx.context.set("k", name)
            ctx.context.set(f"only_{name}", True)
            return name

        return fn

    async def after_a(ctx: legato.StepContext) -> None:
        await store.resolved["b"].wait()
        seen["c"] = (await ctx.context.get("k"), await ctx.context.get("only_b", "unseen"))

    async def join(ctx: legato.StepContext) -> None:
        seen["j"] = await ctx.context.get("k")

    async def start(ctx: legato.StepContext) -> None:
        ctx.context.set("k", "s")

    flow = (
        legato.Flow("ctxrule")
        .node("s", start)
        .node("a", writer("a", "b"))
        .node("b", writer("b", "a"))
        .node("c", after_a)
        .node("j", join)
        .edge("s", "a")
        .edge("s", "b")
        .edge("a", "c")
        .edge("a", "j")
        .edge("b", "j")
    )
    async with engine:
        result = await engine.run(legato.compile(flow), None, timeout=10)
        writes = await store.get_context(result.run_id, ["k"])
    assert result.status == "completed", result.error
    assert seen == {"c": ("a", "unseen"), "j": "b"}
    assert sorted((w.step_id, w.value) for w in writes["k"]) == [("a", "a"), ("b", "b"), ("s", "s")]
    assert result.context == {"k": "b", "only_a": True, "only_b": True}


async def test_a_step_sees_its_own_writes_and_a_default_for_missing_keys() -> None:
    async def fn(ctx: legato.StepContext) -> Any:
        before = await ctx.context.get("x", "default")
        ctx.context.set("x", 1)
        with pytest.raises(ValueError, match="context keys are non-empty strings"):
            ctx.context.set("", 1)
        return [before, await ctx.context.get("x")]

    result = await run(legato.Flow("own").node("a", fn))
    assert result.outputs == {"a": ["default", 1]}


async def test_params_can_be_returned_and_written_to_the_context() -> None:
    async def echo(ctx: legato.StepContext) -> Any:
        ctx.context.set("copy", ctx.params["value"])
        return ctx.params["value"]

    async def reread(ctx: legato.StepContext) -> Any:
        return await ctx.context.get("copy")

    value = {"nested": {"k": [1, {"deep": True}]}, "n": 1}
    flow = (
        legato.Flow("echo")
        .node("a", echo, params={"value": value})
        .node("b", reread)
        .edge("a", "b")
    )
    result = await run(flow)
    assert (result.status, result.error) == ("completed", None)
    assert result.outputs == {"a": value, "b": value}


def test_frozen_params_copy_pickle_and_encode_as_plain_values() -> None:
    import copy
    import pickle

    from legato.runtime.frozen import FrozenDict, freeze

    frozen = freeze({"a": {"b": [1, 2]}})
    for twin in (copy.copy(frozen), copy.deepcopy(frozen), pickle.loads(pickle.dumps(frozen))):
        assert twin == frozen and type(twin) is FrozenDict
        with pytest.raises(TypeError, match="read-only mapping"):
            twin["a"] = 1
    thawed = frozen.copy()
    thawed["a"] = 2
    assert thawed == {"a": 2} and frozen == {"a": {"b": (1, 2)}}
    assert msgspec.json.encode(frozen) == b'{"a":{"b":[1,2]}}'


async def test_an_oversized_output_fails_the_step_without_retrying() -> None:
    attempts: list[int] = []
    big = "x" * 200

    async def fn(ctx: legato.StepContext) -> str:
        attempts.append(ctx.attempt)
        return big

    size = len(msgspec.msgpack.encode(big))
    flow = legato.Flow("big").node("a", fn, retry=FAST)
    result = await run(flow, limits=legato.Limits(output_bytes=100))
    assert attempts == [1]
    assert result.status == "failed"
    assert (result.error or "").startswith(
        f"step a failed: output is {size} bytes, over the limit of 100 bytes (Limits.output_bytes"
    )


async def test_the_default_limit_is_one_mebibyte_and_applies_to_context_values() -> None:
    async def fn(ctx: legato.StepContext) -> str:
        ctx.context.set("blob", b"x" * (1 << 20))
        return "small"

    async with legato.Engine() as engine:
        result = await engine.run(legato.compile(legato.Flow("ctxbig").node("a", fn)), timeout=10)
        history = await engine.backend.store.history(result.run_id)
    size = len(msgspec.msgpack.encode(b"x" * (1 << 20)))
    assert (result.error or "").startswith(
        f"step a failed: context value 'blob' is {size} bytes, over the limit of 1048576 bytes"
    )
    [failed] = [e for e in history if isinstance(e, StepFailed)]
    assert failed.error_type == "OutputTooLargeError"


async def test_a_non_serialisable_output_fails_clearly() -> None:
    async def fn(ctx: legato.StepContext) -> object:
        return object()

    result = await run(legato.Flow("ser").node("a", fn, retry=FAST))
    assert result.status == "failed"
    assert result.error == (
        "step a failed: output is not serialisable: Encoding objects of type object is unsupported"
    )


def sync_node(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


class Lifecycle:
    def prep(self, ctx: legato.StepContext) -> int:
        return int(ctx.input) + 1

    async def exec(self, prepared: int) -> int:
        return prepared * 10

    def post(self, ctx: legato.StepContext, prepared: int, result: int) -> legato.Result:
        return legato.Result({"prepared": prepared, "result": result}, action="go")


class ExecOnly:
    def exec(self, prepared: Any) -> Any:
        return ["exec", prepared]


async def test_sync_functions_and_prep_exec_post_classes() -> None:
    flow = (
        legato.Flow("kinds")
        .node("s", sync_node)
        .node("c", Lifecycle)
        .node("e", ExecOnly)
        .node("never", ExecOnly)
        .edge("s", "c")
        .edge("c", "e", action="go", transform="output.result")
        .edge("c", "never", action="stop")
    )
    result = await run(flow, 3)
    assert result.outputs == {
        "s": 6,
        "c": {"prepared": 7, "result": 70},
        "e": ["exec", 70],
    }


async def test_registered_names_and_module_paths_in_files(tmp_path: Any) -> None:
    catalog = legato.NodeCatalog()
    catalog.register("double", sync_node)
    bp = legato.parse_blueprint(
        {
            "id": "named",
            "nodes": [
                {"id": "a", "uses": "double"},
                {"id": "b", "uses": "tests.unit.test_ctx:sync_node"},
            ],
            "edges": [{"source": "a", "target": "b"}],
        }
    )
    async with legato.Engine(catalog=catalog) as engine:
        result = await engine.run(legato.compile(bp, catalog), 5, timeout=10)
    assert result.outputs == {"a": 10, "b": 20}
