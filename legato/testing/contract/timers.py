"""The Timers contract. Subclass ``TimersContract`` and give a ``timers`` fixture: a
``TimerHarness`` around a fresh implementation."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from legato.adapters.memory import MemoryJobBus
from legato.schemas import Job


class TimerHarness:
    """Drives one ``Timers`` implementation: ``fired(now)`` returns the jobs it has
    published by unix time ``now`` (timers that fire by themselves run on the event
    loop's clock, so the harness waits until ``now``; polled ones are polled at it)."""

    def __init__(self, timers: Any, bus: MemoryJobBus) -> None:
        self.timers = timers
        self.bus = bus

    async def fired(self, now: float) -> list[Job]:
        if self.timers.poll_interval is not None:
            await self.timers.fire_due(self.bus, now)
        else:
            await asyncio.sleep(max(0.0, now - time.time()) + 0.02)
        return [d.job for d in self.bus.take()]


def job(step: str, attempt: int = 1) -> Job:
    return Job(uuid.uuid4().hex, step, step, "bp", "1", attempt=attempt)


class TimersContract:
    """Due timers fire once, in order; a run's pending timers can be dropped."""

    async def test_a_timer_fires_when_due_and_not_before(self, timers: TimerHarness) -> None:
        at = time.time() + 0.3
        j = job("a")
        await timers.timers.schedule(at, j)
        assert await timers.fired(at - 0.25) == []
        assert await timers.fired(at + 0.05) == [j]
        assert await timers.fired(at + 0.5) == []  # fired once, then gone

    async def test_timers_fire_in_due_order_and_only_the_due_ones(
        self, timers: TimerHarness
    ) -> None:
        now = time.time()
        late, early, later = job("late"), job("early"), job("later")
        await timers.timers.schedule(now + 0.2, late)
        await timers.timers.schedule(now + 0.1, early)
        await timers.timers.schedule(now + 120, later)  # another bucket, far ahead
        assert await timers.fired(now + 0.25) == [early, late]
        assert later not in await timers.fired(now + 0.3)

    async def test_a_timer_in_the_past_fires_at_once(self, timers: TimerHarness) -> None:
        j = job("past")
        await timers.timers.schedule(time.time() - 3600, j)
        assert await timers.fired(time.time()) == [j]

    async def test_dropping_a_run_drops_only_its_pending_timers(self, timers: TimerHarness) -> None:
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
