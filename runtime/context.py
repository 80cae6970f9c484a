"""What a node sees: ``ctx`` with its input, params, ids, attempt and the run context.

Context resolution rule (deterministic, the same embedded and distributed):
a step sees, for each key, the write made by the latest of its *ancestor*
steps (in a fixed causal order: topological position, then loop iteration),
plus its own writes. Writes by concurrent branches are all kept (each in its
own row) and never overwrite each other; the run's final context takes, per
key, the write of the latest step in that same order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from legato.runtime.registry import Registry
from legato.runtime.steps import StepId
from legato.schemas import ContextWrite

_MISSING: Any = object()


def visible_value(
    reg: Registry, node_id: str, iteration: int, writes: Iterable[ContextWrite]
) -> Any:
    """The value a step of ``node_id`` at ``iteration`` sees, or ``_MISSING``."""
    reader = reg.nodes[node_id]
    best: tuple[int, int, int] | None = None
    value: Any = _MISSING
    for w in writes:
        sid = StepId.parse(w.step_id)
        wnode, wit = sid.node, sid.position
        writer = reg.nodes.get(wnode)
        if writer is None:
            continue
        if reader.loop is not None and writer.loop is reader.loop:
            visible = wit < iteration or (wit == iteration and reg.is_ancestor(wnode, node_id))
        else:
            visible = reg.is_ancestor(wnode, node_id)
        if visible:
            key = reg.order_key(wnode, wit)
            if best is None or key > best:
                best, value = key, w.value
    return value


def final_value(reg: Registry, writes: Iterable[ContextWrite]) -> Any:
    best: tuple[int, int, int, str] | None = None
    value: Any = _MISSING
    for w in writes:
        sid = StepId.parse(w.step_id)
        wnode, wit = sid.node, sid.position
        if wnode not in reg.nodes:
            continue
        key = (*reg.order_key(wnode, wit), w.step_id)
        if best is None or key > best:
            best, value = key, w.value
    return value


def final_context(reg: Registry, writes: Mapping[str, list[ContextWrite]]) -> dict[str, Any]:
    out = {}
    for key, ws in writes.items():
        v = final_value(reg, ws)
        if v is not _MISSING:
            out[key] = v
    return out


Loader = Callable[[str], Awaitable[Any]]


class RunContext:
    """Async access to the run's shared context; writes are kept with the step's result."""

    __slots__ = ("_loader", "_preloaded", "writes")

    def __init__(self, loader: Loader, preloaded: Mapping[str, Any] | None = None) -> None:
        self._loader = loader
        self._preloaded = dict(preloaded or {})
        self.writes: dict[str, Any] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        if key in self.writes:
            return self.writes[key]
        if key in self._preloaded:
            value = self._preloaded[key]
        else:
            value = await self._loader(key)
            self._preloaded[key] = value
        return default if value is _MISSING else value

    def set(self, key: str, value: Any) -> None:
        """Write ``key``; recorded atomically with the step's completion."""
        if not isinstance(key, str) or not key:
            raise ValueError("context keys are non-empty strings")
        self.writes[key] = value


class StepContext:
    """The single argument of a node function.

    Attributes:
        input: the run's input (start node), the predecessor's output, a dict
            ``{predecessor: output}`` for a join, or what ``inputs:`` selects.
        params: the node's ``params`` (read-only).
        run_id, step_id, node_id: where this step stands.
        attempt: 1-based attempt number.
        iteration: the loop iteration (0 outside loops).
        index: a foreach item's position in its list (None outside foreach).
        context: async ``get(key)`` / ``set(key, value)`` on the run context.
        error: for a fallback node, the error of the node it stands in for.
        cancelled: set when the run was cancelled while the step runs (long-running
            sync code should check it; async code also gets ``CancelledError``).
    """

    __slots__ = (
        "attempt",
        "cancelled",
        "context",
        "error",
        "index",
        "input",
        "iteration",
        "node_id",
        "params",
        "run_id",
        "step_id",
    )

    def __init__(
        self,
        *,
        input: Any,
        params: Mapping[str, Any],
        run_id: str,
        step_id: str,
        node_id: str,
        attempt: int,
        iteration: int,
        context: RunContext,
        error: str | None = None,
        index: int | None = None,
    ) -> None:
        self.input = input
        self.params = params
        self.run_id = run_id
        self.step_id = step_id
        self.node_id = node_id
        self.attempt = attempt
        self.iteration = iteration
        self.context = context
        self.error = error
        self.index = index
        self.cancelled = False
