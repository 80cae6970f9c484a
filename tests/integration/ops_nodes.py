"""Nodes for tests/integration/test_operations.py (imported by a worker process)."""

from __future__ import annotations

import logging
import os

import legato

log = logging.getLogger("ops_nodes")


async def begin(ctx: legato.StepContext) -> legato.Result:
    return legato.Result(output=1, action="left")


async def one(ctx: legato.StepContext) -> int:
    return 1


async def flaky(ctx: legato.StepContext) -> int:
    """Logs a URL with a password (as node code does), fails its first attempt."""
    secret = os.environ.get("OPS_SECRET", "")
    log.warning("calling https://svc:%s@api.example/v1 (attempt %d)", secret, ctx.attempt)
    if ctx.attempt == 1:
        raise ConnectionError("service not reachable")
    return ctx.attempt


async def broken(ctx: legato.StepContext) -> int:
    raise legato.NonRetryableError("broken for good")
