"""Blueprint documents: what users write in YAML/JSON or build in Python.

Hand-written files reject unknown fields (a typo is an error, not a silent
default). Durations are seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from legato.schemas._stable import stable_schema


class Retry(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Retry policy: exponential backoff with jitter.

    The delay before attempt ``n+1`` is ``min(max_delay, initial_delay *
    multiplier**(n-1))``, then spread by +/- ``jitter`` (a fraction, 0..1).
    """

    max_attempts: int = 3
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.1


class CountJoin(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``join: {count: N}``: the node runs once ``N`` of its predecessors delivered,
    with those ``N`` outputs; it is skipped once fewer than ``N`` still can."""

    count: int


class ForEach(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Run the node once per item of a list: ``items`` is CEL over the variables of
    ``inputs:`` and must give a list; at most ``max_concurrency`` items are in flight
    at once across all workers (unbounded when absent)."""

    items: str
    max_concurrency: int | None = None


class NodeConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Execution settings of a node."""

    retry: Retry | None = None
    timeout: float | None = None
    fallback: str | None = None
    join: Literal["all", "any"] | CountJoin = "all"
    foreach: ForEach | None = None


class Node(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """One node: ``uses`` names its implementation (``"pkg.module:function"`` or a
    name registered in code); ``inputs`` is a CEL expression, or a mapping of
    names to CEL expressions, that builds the node's input."""

    id: str
    uses: str
    params: dict[str, Any] = {}
    inputs: str | dict[str, str] | None = None
    config: NodeConfig = NodeConfig()


class Loop(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Marks an edge as a loop's back edge: from the body's last node to its first."""

    max_iterations: int = 1000


class Edge(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A directed edge. ``action`` and ``condition`` decide whether it is taken;
    ``transform`` (CEL) maps the source's output to the target's input. With
    ``loop``, the edge goes back to the start of a loop body and is taken while
    its action/condition hold."""

    source: str
    target: str
    action: str | None = None
    condition: str | None = None
    transform: str | None = None
    loop: Loop | None = None


class ScheduleSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """``schedule:``: start the blueprint at each tick of ``cron`` (5 fields, or 6 with
    seconds first) in ``timezone``, with ``input``; ``catch_up`` says what becomes of
    ticks missed while no worker ran (``skip``, ``latest``, ``all``). Registering the
    blueprint adds (or replaces) the schedule named after its id."""

    cron: str
    timezone: str = "UTC"
    input: Any = None
    catch_up: Literal["skip", "latest", "all"] = "skip"


class Blueprint(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """A workflow definition: nodes and edges, identified by ``id`` and ``version``."""

    id: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()
    version: str = "1"
    metadata: dict[str, Any] = {}
    schedule: ScheduleSpec | None = None


@dataclass(frozen=True)
class Shorthand:
    """A form a document may give a field beyond the field's own type.

    The parser expands it, and the JSON Schema allows it: both read
    ``SHORTHANDS``, so they cannot disagree.
    """

    schema: dict[str, Any]  # JSON Schema of the extra form
    name: str  # how messages name it
    accepts: Callable[[Any], bool]
    expand: Callable[[Any], Any]  # into a value of the field's own type


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


SHORTHANDS: dict[tuple[type, str], Shorthand] = {
    # YAML reads `version: 1` as a number.
    (Blueprint, "version"): Shorthand({"type": "number"}, "number", _is_number, str),
    # `loop: true` is a loop with the default limit; `loop: false` is no loop.
    (Edge, "loop"): Shorthand(
        {"type": "boolean"}, "bool", lambda v: isinstance(v, bool), lambda v: {} if v else None
    ),
}


def blueprint_json_schema() -> dict[str, Any]:
    """JSON Schema of blueprint documents, for editor completion and validation.

    It accepts exactly what the parser accepts: the Structs' schema, plus the
    ``SHORTHANDS``. Semantic checks (ids, the graph, expressions) are the compiler's.
    """
    structs = (Blueprint, CountJoin, Edge, ForEach, Loop, Node, NodeConfig, Retry, ScheduleSpec)
    schema = stable_schema(msgspec.json.schema(Blueprint), structs)
    for (cls, name), short in SHORTHANDS.items():
        prop = schema["$defs"][cls.__name__]["properties"][name]
        if "anyOf" not in prop:
            own = {k: v for k, v in prop.items() if k != "default"}
            for k in own:
                del prop[k]
            prop["anyOf"] = [own]
        prop["anyOf"].append(short.schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Legato blueprint"
    return schema
