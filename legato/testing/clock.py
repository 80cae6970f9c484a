"""A clock that moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class _Timer:
    __slots__ = ("at", "callback", "cancelled")

    def __init__(self, at: float, callback: Callable[[], None]) -> None:
        self.at = at
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A ``Clock`` for tests: ``now()`` stands still until ``advance``, which fires
    the timed callbacks (durable timers, heartbeats, backoff sleeps) that fall due,
    in time order, letting the event loop run after each.

    Example::

        clock = FakeClock()
        async with legato.Engine(memory_backend(clock)) as engine:
            ...
            await clock.advance(30)  # a 30 s retry delay passes at once
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, at: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(at, callback)
        heapq.heappush(self._timers, (at, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        timer = self.call_at(self._now + max(0.0, seconds), wake)
        try:
            await done
        finally:
            timer.cancel()

    def pending(self) -> int:
        """Timed callbacks not fired yet."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def next_at(self) -> float | None:
        """When the next timed callback is due, if any."""
        live = [at for at, _, t in self._timers if not t.cancelled]
        return min(live) if live else None

    async def advance(self, seconds: float) -> None:
        """Move ``seconds`` forward, firing what falls due on the way."""
        target = self._now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            at, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, at)
            timer.callback()
            await settle()
        self._now = target
        await settle()

    async def run_until(
        self, done: Callable[[], bool], *, step: float = 1.0, limit: float = 86_400.0
    ) -> float:
        """Advance ``step`` at a time until ``done()``; returns the time it took.
        Raises ``TimeoutError`` after ``limit`` seconds of this clock."""
        start = self._now
        await settle()
        while not done():
            if self._now - start >= limit:
                raise TimeoutError(f"not done after {limit}s of fake time")
            await self.advance(step)
        return self._now - start


async def settle(rounds: int = 20) -> None:
    """Let every task that can run, run (the loop goes round ``rounds`` times)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
