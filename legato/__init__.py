"""Legato: an event-sourced workflow runtime, embedded by default, distributed over
Kafka, Cassandra and Redis when configured.

Example::

    import legato

    async def hello(ctx):
        return f"hello {ctx.input}"

    flow = legato.Flow("greet").node("hello", hello)
    result = legato.run_sync(flow, "world")
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import legato._clone  # noqa: F401 - before the subpackages: finds them in a clone
from legato.runtime.blueprint import Flow, load_blueprint, parse_blueprint
from legato.runtime.compiler import compile_blueprint, compile_document, compile_file
from legato.runtime.context import RunContext, StepContext
from legato.runtime.control import RunResult
from legato.runtime.engine import Engine as _Engine
from legato.runtime.errors import (
    BlueprintError,
    LegatoError,
    NonRetryableError,
    OutputTooLargeError,
    Problem,
    StepError,
)
from legato.runtime.nodes import NodeCatalog, Result, default_catalog
from legato.runtime.ports import Backend
from legato.runtime.registry import Registry
from legato.runtime.runindex import InvalidQueryError, RunPage, RunQuery, RunSummary
from legato.runtime.worker import WorkerSettings
from legato.schemas import Blueprint, Edge, Loop, Node, NodeConfig, Retry

__version__ = "0.1.0"


class Engine(_Engine):
    """Runs blueprints; embedded (in process, no servers) unless given a backend."""

    def __init__(self, backend: Backend | None = None, **kwargs: Any) -> None:
        if backend is None:
            from legato.adapters.memory import memory_backend

            backend = memory_backend()
            kwargs.setdefault("owns_backend", True)
        super().__init__(backend, **kwargs)


def node(name: str) -> Any:
    """Register a function under ``name`` for blueprints that say ``uses: name``."""
    return default_catalog.node(name)


#: What ``compile`` and ``run`` accept as a blueprint.
BlueprintSource = Blueprint | Flow | Mapping[str, Any] | str | os.PathLike[str]


def compile(blueprint: BlueprintSource, catalog: NodeCatalog | None = None) -> Registry:
    """Compile a blueprint into a ``Registry``: a ``Blueprint``, a ``Flow``, a
    document (a dict, as from YAML or JSON) or a file path.

    Raises:
        BlueprintError: listing every problem, each with its path in the document.
    """
    if isinstance(blueprint, str | os.PathLike):
        return compile_file(blueprint, catalog)
    if isinstance(blueprint, Mapping):
        return compile_document(blueprint, catalog)
    if isinstance(blueprint, Blueprint | Flow):
        return compile_blueprint(blueprint, catalog)
    given = type(blueprint).__name__
    message = (
        f"cannot compile a value of type {given}: "
        "expected a Blueprint, a Flow, a mapping or a path"
    )
    raise BlueprintError([Problem("", message)])


async def run(
    blueprint: Registry | BlueprintSource, input: Any = None, *, timeout: float | None = None
) -> RunResult:
    """Run a blueprint embedded, to completion."""
    registry = blueprint if isinstance(blueprint, Registry) else compile(blueprint)
    async with Engine() as engine:
        return await engine.run(registry, input, timeout=timeout)


def run_sync(
    blueprint: Registry | BlueprintSource, input: Any = None, *, timeout: float | None = None
) -> RunResult:
    """``run`` for code that is not async."""
    return asyncio.run(run(blueprint, input, timeout=timeout))


def __getattr__(name: str) -> Any:
    # The client imports the Kafka, Cassandra and Redis drivers: only when asked for.
    if name in ("Client", "SyncClient"):
        from legato import client

        return getattr(client, name)
    raise AttributeError(f"module 'legato' has no attribute {name!r}")


__all__ = [
    "Backend",
    "Blueprint",
    "BlueprintError",
    "BlueprintSource",
    "Client",
    "Edge",
    "Engine",
    "Flow",
    "InvalidQueryError",
    "LegatoError",
    "Loop",
    "Node",
    "NodeCatalog",
    "NodeConfig",
    "NonRetryableError",
    "OutputTooLargeError",
    "Problem",
    "Registry",
    "Result",
    "Retry",
    "RunContext",
    "RunPage",
    "RunQuery",
    "RunResult",
    "RunSummary",
    "StepContext",
    "StepError",
    "SyncClient",
    "WorkerSettings",
    "compile",
    "load_blueprint",
    "node",
    "parse_blueprint",
    "run",
    "run_sync",
]
