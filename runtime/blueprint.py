"""Reading blueprints: YAML/JSON files, plain dicts, and a Python builder.

Structural checks (unknown keys, wrong types, missing fields) collect every
problem with its path before anything is compiled.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from legato.runtime.documents import check_shape, read_document
from legato.runtime.errors import BlueprintError, Problem
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.schemas import Blueprint, Edge, Loop, Node, NodeConfig, Retry

# Nested Struct fields, so that unknown keys are found at every level.
_NESTED: dict[type, dict[str, tuple[str, type]]] = {
    Blueprint: {"nodes": ("list", Node), "edges": ("list", Edge)},
    Node: {"config": ("one", NodeConfig)},
    NodeConfig: {"retry": ("one", Retry)},
    Edge: {"loop": ("one", Loop)},
}


def _fields(cls: type) -> list[str]:
    return [f.name for f in msgspec.structs.fields(cls)]


def _check_keys(obj: Any, cls: type, path: str, problems: list[Problem]) -> None:
    if not isinstance(obj, Mapping):
        return  # the type check reports it
    names = _fields(cls)
    for key in obj:
        if key not in names:
            hint = difflib.get_close_matches(str(key), names, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; known keys: {', '.join(names)}"
            problems.append(Problem(f"{path}.{key}" if path else str(key), f"unknown key{extra}"))
    for key, (arity, sub) in _NESTED.get(cls, {}).items():
        value = obj.get(key)
        if value is None:
            continue
        if arity == "one":
            _check_keys(value, sub, f"{path}.{key}" if path else key, problems)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                _check_keys(item, sub, f"{path}.{key}[{i}]" if path else f"{key}[{i}]", problems)


def _convert(obj: Any, cls: type, path: str, problems: list[Problem]) -> Any:
    try:
        return msgspec.convert(obj, cls)
    except msgspec.ValidationError as exc:
        # msgspec stops at the first bad field; check each field so all are listed.
        problems.extend(_field_problems(obj, cls, path) or [_problem(exc, path)])
        return None


def _problem(exc: msgspec.ValidationError, path: str) -> Problem:
    message, where = str(exc), ""
    if " - at `$" in message:
        message, where = message.rsplit(" - at `$", 1)
        where = where.rstrip("`")
    return Problem(path + where, message)


def _field_problems(obj: Any, cls: type, path: str) -> list[Problem]:
    if not isinstance(obj, Mapping):
        return []
    out: list[Problem] = []
    nested = _NESTED.get(cls, {})
    for f in msgspec.structs.fields(cls):
        where = f"{path}.{f.name}"
        if f.name not in obj:
            if f.required:
                out.append(Problem(where, "required key missing"))
            continue
        value = obj[f.name]
        sub = nested.get(f.name)
        if sub is not None and sub[0] == "one" and isinstance(value, Mapping):
            out.extend(_field_problems(value, sub[1], where))
            continue
        try:
            msgspec.convert(value, f.type)
        except msgspec.ValidationError as exc:
            out.append(_problem(exc, where))
    return out


def _normalise_edge(raw: Any) -> Any:
    if isinstance(raw, Mapping) and isinstance(raw.get("loop"), bool):
        raw = dict(raw)
        if raw["loop"]:
            raw["loop"] = {}
        else:
            del raw["loop"]
    return raw


def parse_blueprint(
    data: Any, source: str | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> Blueprint:
    """Validate a decoded document and build a ``Blueprint``; raises
    ``BlueprintError`` listing every structural problem."""
    return _parse(data, source, limits, [])


def _parse(data: Any, source: str | None, limits: Limits, problems: list[Problem]) -> Blueprint:
    if not isinstance(data, Mapping):
        raise BlueprintError([Problem("", "a blueprint must be a mapping")], source)
    shape = check_shape(data, limits)
    if shape:  # unsafe to walk any further
        raise BlueprintError(shape, source)
    _check_keys(data, Blueprint, "", problems)
    for key in ("id", "nodes"):
        if key not in data:
            problems.append(Problem(key, "required key missing"))
    bp_id = data.get("id")
    if bp_id is not None and not isinstance(bp_id, str):
        problems.append(Problem("id", f"expected a string, got {type(bp_id).__name__}"))
    version = data.get("version", "1")
    if isinstance(version, int | float) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str):
        problems.append(Problem("version", "expected a string or a number"))
    metadata = data.get("metadata", {})
    if not isinstance(metadata, Mapping):
        problems.append(Problem("metadata", "expected a mapping"))
    nodes: list[Node] = []
    edges: list[Edge] = []
    for key, cls, out in (("nodes", Node, nodes), ("edges", Edge, edges)):
        items = data.get(key, [])
        if not isinstance(items, list):
            problems.append(Problem(key, "expected a list"))
            continue
        for i, raw in enumerate(items):
            if cls is Edge:
                raw = _normalise_edge(raw)
            if not isinstance(raw, Mapping):
                problems.append(Problem(f"{key}[{i}]", "expected a mapping"))
                continue
            known = {k: v for k, v in raw.items() if k in _fields(cls)}
            value = _convert(_strip_unknown(known, cls), cls, f"{key}[{i}]", problems)
            if value is not None:
                out.append(value)
    if problems:
        raise BlueprintError(problems, source)
    return Blueprint(
        id=str(bp_id),
        version=str(version),
        nodes=tuple(nodes),
        edges=tuple(edges),
        metadata=dict(metadata),
    )


def _strip_unknown(obj: Any, cls: type) -> Any:
    """Drop unknown keys (already reported) so type errors are reported too."""
    if not isinstance(obj, Mapping):
        return obj
    names = set(_fields(cls))
    out = {k: v for k, v in obj.items() if k in names}
    for key, (arity, sub) in _NESTED.get(cls, {}).items():
        if key in out and out[key] is not None:
            if arity == "one":
                out[key] = _strip_unknown(out[key], sub)
            elif isinstance(out[key], list):
                out[key] = [_strip_unknown(item, sub) for item in out[key]]
    return out


def load_blueprint(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Blueprint:
    """Read a YAML (``.yaml``/``.yml``) or JSON blueprint file."""
    data, problems = read_document(path, limits)
    return _parse(data, str(path), limits, problems)


NodeFunction = Callable[..., Any]


class Flow:
    """Build a blueprint in Python.

    Example::

        flow = (Flow("etl").node("extract", extract).node("load", load, retry=Retry())
                .edge("extract", "load"))
        registry = flow.compile()
    """

    def __init__(self, blueprint_id: str, version: str = "1") -> None:
        self.id = blueprint_id
        self.version = version
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []
        self._functions: dict[str, NodeFunction] = {}

    def node(
        self,
        node_id: str,
        uses: str | NodeFunction,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: str | Mapping[str, str] | None = None,
        retry: Retry | None = None,
        timeout: float | None = None,
        fallback: str | None = None,
        join: str = "all",
    ) -> Flow:
        if callable(uses):
            name = f"{self.id}.{node_id}"
            self._functions[name] = uses
            uses = name
        config = msgspec.convert(
            {"retry": retry, "timeout": timeout, "fallback": fallback, "join": join}, NodeConfig
        )
        self._nodes.append(
            Node(
                id=node_id,
                uses=uses,
                params=dict(params or {}),
                inputs=dict(inputs) if isinstance(inputs, Mapping) else inputs,
                config=config,
            )
        )
        return self

    def edge(
        self,
        source: str,
        target: str,
        *,
        action: str | None = None,
        condition: str | None = None,
        transform: str | None = None,
        loop: Loop | bool | None = None,
    ) -> Flow:
        loop_spec = Loop() if loop is True else (loop or None)
        self._edges.append(Edge(source, target, action, condition, transform, loop_spec))
        return self

    @property
    def functions(self) -> dict[str, NodeFunction]:
        """Implementations passed as callables, under the names the nodes use."""
        return dict(self._functions)

    def blueprint(self) -> Blueprint:
        return Blueprint(
            id=self.id, version=self.version, nodes=tuple(self._nodes), edges=tuple(self._edges)
        )
