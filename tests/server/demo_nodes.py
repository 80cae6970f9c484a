"""Node code of the server tests (and of the README's demo)."""

from __future__ import annotations

from typing import Any

import legato


async def double(ctx: legato.StepContext) -> Any:
    return {"n": ctx.input["n"] * 2}


async def add_one(ctx: legato.StepContext) -> Any:
    return {"n": ctx.input["n"] + 1}


async def explode(ctx: legato.StepContext) -> Any:
    raise legato.NonRetryableError(f"db down for n={ctx.input['n']}")


BLUEPRINT = {
    "id": "demo",
    "version": "1",
    "nodes": [
        {"id": "double", "uses": "tests.server.demo_nodes:double"},
        {"id": "add_one", "uses": "tests.server.demo_nodes:add_one"},
    ],
    "edges": [{"source": "double", "target": "add_one"}],
}

FAILING = {
    "id": "failing",
    "version": "1",
    "nodes": [
        {"id": "double", "uses": "tests.server.demo_nodes:double"},
        {"id": "explode", "uses": "tests.server.demo_nodes:explode"},
    ],
    "edges": [{"source": "double", "target": "explode"}],
}

WAITING = {
    "id": "waiting",
    "version": "1",
    "nodes": [
        {"id": "approve", "uses": "legato.wait_for_signal", "params": {"signal": "approval"}},
        {"id": "add_one", "uses": "tests.server.demo_nodes:add_one"},
    ],
    "edges": [{"source": "approve", "target": "add_one"}],
}
