"""The Timers contract, for every implementation (memory, Cassandra)."""

from __future__ import annotations

import time
import uuid

from legato.schemas import Job
from tests.contract.conftest import TimerHarness


def job(step: str, attempt: int = 1) -> Job:
    return Job(uuid.uuid4().hex, step, step, "bp", "1", attempt=attempt)


async def test_a_timer_fires_when_due_and_not_before(timers: TimerHarness) -> None:
    at = time.time() + 0.3
    j = job("a")
    await timers.timers.schedule(at, j)
    assert await timers.fired(at - 0.25) == []
    assert await timers.fired(at + 0.05) == [j]
    assert await timers.fired(at + 0.5) == []  # fired once, then gone


async def test_timers_fire_in_due_order_and_only_the_due_ones(timers: TimerHarness) -> None:
    now = time.time()
    late, early, later = job("late"), job("early"), job("later")
    await timers.timers.schedule(now + 0.2, late)
    await timers.timers.schedule(now + 0.1, early)
    await timers.timers.schedule(now + 120, later)  # another bucket, far ahead
    assert await timers.fired(now + 0.25) == [early, late]
    assert later not in await timers.fired(now + 0.3)


async def test_a_timer_in_the_past_fires_at_once(timers: TimerHarness) -> None:
    j = job("past")
    await timers.timers.schedule(time.time() - 3600, j)
    assert await timers.fired(time.time()) == [j]


async def test_dropping_a_run_drops_only_its_pending_timers(timers: TimerHarness) -> None:
    now = time.time()
    fired, other = job("fired"), job("other")
    pending = Job(fired.run_id, "pending", "pending", "bp", "1")
    await timers.timers.schedule(now + 0.05, fired)
    await timers.timers.schedule(now + 0.3, pending)
    await timers.timers.schedule(now + 0.3, other)
    assert await timers.fired(now + 0.1) == [fired]
    assert await timers.timers.drop_run(fired.run_id) == 1  # `pending`; `fired` is gone
    assert await timers.fired(now + 0.4) == [other]
    assert await timers.timers.drop_run(fired.run_id) == 0
