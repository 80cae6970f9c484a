"""Typed node input and the run/step size limits give the same result embedded and
distributed (input and outputs through Cassandra, jobs through Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

import legato
from legato import StepContext
from legato.adapters import open_backend
from legato.config import Settings
from legato.runtime.errors import RunNotFoundError

pytestmark = pytest.mark.integration
LIMITS = legato.Limits(input_bytes=512, output_bytes=256)
RETRIES = legato.Retry(max_attempts=3, initial_delay=0.0, jitter=0.0)


class Order(msgspec.Struct):
    sku: str
    qty: int


async def price(ctx: StepContext[Order]) -> dict[str, Any]:
    return {"sku": ctx.input.sku, "total": ctx.input.qty * 3}


async def pad(ctx: StepContext[dict[str, Any]]) -> str:
    return "p" * ctx.input["total"]


FLOW = legato.Flow("typed-limits").node("price", price, retry=RETRIES)
FLOW = FLOW.node("pad", pad, retry=RETRIES).edge("price", "pad")


@pytest.fixture
async def distributed(dist_settings: Settings) -> AsyncIterator[legato.Engine]:
    backend = await open_backend(dist_settings)
    engine = legato.Engine(backend, concurrency=8, limits=LIMITS)
    engine.start_workers()
    try:
        yield engine
    finally:
        await engine.close()
        await backend.close()


async def outcome(engine: legato.Engine, value: Any) -> tuple[Any, ...]:
    rid = await engine.start(legato.compile(FLOW), value)
    result = await engine.wait(rid, timeout=60)
    failed = [e for e in await engine.history(rid) if type(e).__name__ == "StepFailed"]
    return result.status, result.outputs, result.error, [(e.node, e.error_type) for e in failed]


@pytest.mark.parametrize(
    "value",
    [
        {"sku": "a", "qty": 2},  # completes: a 6-byte pad
        {"sku": "a", "qty": "two"},  # typed input mismatch: fails once, naming $.qty
        {"sku": "a", "qty": 100},  # pad's 300-byte output: over output_bytes, fails once
    ],
)
async def test_the_same_outcome_embedded_and_distributed(
    distributed: legato.Engine, value: Any
) -> None:
    async with legato.Engine(limits=LIMITS) as embedded:
        embedded.start_workers()
        expected = await outcome(embedded, value)
    assert await outcome(distributed, value) == expected
    status, _, error, failed = expected
    if value["qty"] == "two":
        assert status == "failed" and "at `$.qty`" in error
        assert failed == [("price", "InputValidationError")]
    elif value["qty"] == 100:
        assert status == "failed" and "over the limit of 256 bytes" in error
        assert failed == [("pad", "OutputTooLargeError")]
    else:
        assert status == "completed"


async def test_an_oversized_input_starts_nothing_distributed(distributed: legato.Engine) -> None:
    with pytest.raises(legato.InputTooLargeError):
        await distributed.start(legato.compile(FLOW), {"sku": "x" * 600, "qty": 1}, run_id="big1")
    with pytest.raises(RunNotFoundError):
        await distributed.status("big1")
