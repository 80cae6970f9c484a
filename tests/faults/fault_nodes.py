"""Node code for the fault tests. Every execution is written to a ledger outside
Legato (``$LEGATO_FAULT_LOG``, one JSON line when it starts and one when it ends:
run, step, attempt, worker pid, time, and how it ended), so that the tests can
check, across worker processes, which executions happened and when. Outputs are
deterministic, so a run's outputs can be compared with the embedded result."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import legato

LONG_SECONDS = (2.0, 3.0)  # several heartbeats of the fault tests' workers (--lease-ttl 3)


def _write(record: dict[str, Any]) -> None:
    path = os.environ.get("LEGATO_FAULT_LOG")
    if path:  # the embedded reference runs write no ledger
        with open(path, "a", encoding="utf-8") as f:  # one short O_APPEND write
            f.write(json.dumps(record) + "\n")


async def _ledgered(ctx: legato.StepContext, body: Callable[[], Awaitable[Any]]) -> Any:
    key = {"run": ctx.run_id, "step": ctx.step_id, "attempt": ctx.attempt, "pid": os.getpid()}
    _write({**key, "ev": "start", "t": time.time()})
    try:
        out = await body()
    except asyncio.CancelledError:
        _write({**key, "ev": "end", "t": time.time(), "how": "cancelled"})
        raise
    except BaseException:
        _write({**key, "ev": "end", "t": time.time(), "how": "error"})
        raise
    _write({**key, "ev": "end", "t": time.time(), "how": "ok"})
    return out


def _value(ctx: legato.StepContext) -> int:
    value: Any = ctx.input
    if isinstance(value, dict):
        return sum(int(v) for v in value.values()) + 1
    return (int(value) if isinstance(value, int) else 0) + 1


async def work(ctx: legato.StepContext) -> int:
    async def body() -> int:
        await asyncio.sleep(random.uniform(0.005, 0.05))
        return _value(ctx)

    return int(await _ledgered(ctx, body))


async def long(ctx: legato.StepContext) -> int:
    """A step that outlives several heartbeats."""

    async def body() -> int:
        await asyncio.sleep(random.uniform(*LONG_SECONDS))
        return _value(ctx)

    return int(await _ledgered(ctx, body))


def _first_time(marker: str) -> bool:
    try:
        with open(marker, "x"):
            return True
    except FileExistsError:
        return False


async def hang_once(ctx: legato.StepContext) -> str:
    """Hangs on its first execution (its worker is killed meanwhile), then returns."""

    async def body() -> str:
        marker = os.environ["LEGATO_FAULT_LOG"] + f".{ctx.run_id}.{ctx.step_id}.started"
        if _first_time(marker):
            await asyncio.sleep(600)
        return "done"

    return str(await _ledgered(ctx, body))
