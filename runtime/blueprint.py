"""Reading blueprints: YAML/JSON files, plain dicts, and a Python builder.

Structural checks (unknown keys, wrong types, missing fields) collect every
problem with its path; ``legato.compile`` goes on to check the rest and
reports everything in one error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from legato.runtime.documents import read_document
from legato.runtime.errors import BlueprintError
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.structure import read_blueprint
from legato.schemas import Blueprint, Loop, Retry


def parse_blueprint(
    data: Any, source: str | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> Blueprint:
    """Validate a decoded document and build a ``Blueprint``; raises
    ``BlueprintError`` listing every structural problem."""
    reading = read_blueprint(data, limits)
    if reading.problems or reading.blueprint is None:
        raise BlueprintError(reading.problems, source)
    return reading.blueprint


def load_blueprint(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> Blueprint:
    """Read a YAML (``.yaml``/``.yml``) or JSON blueprint file."""
    data, problems = read_document(path, limits)
    reading = read_blueprint(data, limits)
    problems += reading.problems
    if problems or reading.blueprint is None:
        raise BlueprintError(problems, str(path))
    return reading.blueprint


NodeFunction = Callable[..., Any]


class Flow:
    """Build a blueprint in Python.

    The builder records a document, checked as a file would be when the flow is
    compiled: every mistake is then listed at once, each with its path.

    Example::

        flow = (Flow("etl").node("extract", extract).node("load", load, retry=Retry())
                .edge("extract", "load"))
        registry = legato.compile(flow)
    """

    def __init__(self, blueprint_id: str, version: str = "1") -> None:
        self.id = blueprint_id
        self.version = version
        self._nodes: list[dict[str, Any]] = []
        self._edges: list[dict[str, Any]] = []
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
        join: str | Mapping[str, int] = "all",
        foreach: Mapping[str, Any] | None = None,
    ) -> Flow:
        if callable(uses):
            name = f"{self.id}.{node_id}"
            self._functions[name] = uses
            uses = name
        config = _present(retry=_plain(retry), timeout=timeout, fallback=fallback)
        if join != "all":
            config["join"] = _copy(join)
        if foreach is not None:
            config["foreach"] = _copy(foreach)
        node = _present(id=node_id, uses=uses, params=_copy(params), inputs=_copy(inputs))
        if config:
            node["config"] = config
        self._nodes.append(node)
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
        self._edges.append(
            _present(
                source=source,
                target=target,
                action=action,
                condition=condition,
                transform=transform,
                loop=_plain(loop),
            )
        )
        return self

    @property
    def functions(self) -> dict[str, NodeFunction]:
        """Implementations passed as callables, under the names the nodes use."""
        return dict(self._functions)

    def document(self) -> dict[str, Any]:
        """The blueprint document built so far, as a file would hold it."""
        return {
            "id": self.id,
            "version": self.version,
            "nodes": [dict(n) for n in self._nodes],
            "edges": [dict(e) for e in self._edges],
        }

    def blueprint(self) -> Blueprint:
        """The checked ``Blueprint``; raises ``BlueprintError`` listing structural problems."""
        return parse_blueprint(self.document(), f"flow {self.id!r}")


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _plain(value: Any) -> Any:
    """A Struct argument (``Retry``, ``Loop``) as the mapping a document would hold."""
    return msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value


def _copy(value: Any) -> Any:
    # Later changes to the caller's dict must not change the flow.
    return dict(value) if isinstance(value, Mapping) else value
