"""Node code for the fault tests: every execution is logged to a file, so that
executions repeated by crashes can be counted across worker processes."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import legato


def _log(ctx: legato.StepContext) -> None:
    with open(os.environ["LEGATO_FAULT_LOG"], "a", encoding="utf-8") as f:
        f.write(f"{ctx.run_id} {ctx.step_id} {os.getpid()}\n")


async def work(ctx: legato.StepContext) -> int:
    _log(ctx)
    await asyncio.sleep(random.uniform(0.005, 0.05))
    value: Any = ctx.input
    if isinstance(value, dict):
        return sum(int(v) for v in value.values()) + 1
    return (int(value) if isinstance(value, int) else 0) + 1


def _first_time(marker: str) -> bool:
    try:
        with open(marker, "x"):
            return True
    except FileExistsError:
        return False


async def hang_once(ctx: legato.StepContext) -> str:
    """Hangs on its first execution (its worker is killed meanwhile), then returns."""
    _log(ctx)
    if _first_time(os.environ["LEGATO_FAULT_LOG"] + f".{ctx.run_id}.{ctx.step_id}.started"):
        await asyncio.sleep(600)
    return "done"
