"""What a node sees: ``ctx`` (``StepContext``) and its run context (``RunContext``).

Kept apart from the context resolution rule (``legato.runtime.context``) so that
the node catalog can name ``StepContext`` in its types without importing the
registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic

from typing_extensions import TypeVar

#: A context key nobody wrote (distinct from a written ``None``).
MISSING: Any = object()

#: The type of a node's input; ``StepContext`` alone means ``StepContext[Any]``.
In = TypeVar("In", default=Any)


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
        return default if value is MISSING else value

    def set(self, key: str, value: Any) -> None:
        """Write ``key``; recorded atomically with the step's completion."""
        if not isinstance(key, str) or not key:
            raise ValueError("context keys are non-empty strings")
        self.writes[key] = value


class StepContext(Generic[In]):
    """The single argument of a node function.

    ``StepContext[In]`` types ``input``: when a node function's parameter is
    annotated so (``In`` a ``msgspec.Struct``, a dataclass, a ``TypedDict`` or
    any type msgspec converts to), the input is converted to ``In`` before the
    node runs, and an input that does not match fails the step at once, without
    retries, naming the field (``legato.runtime.typed_input``).

    Attributes:
        input: the run's input (start node), the predecessor's output, a dict
            ``{predecessor: output}`` for a join, or what ``inputs:`` selects;
            converted to ``In`` for a typed node.
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

    input: In

    def __init__(
        self,
        *,
        input: In,
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
