"""Time, as a port: what the runtime reads the time from and waits on.

Every part that reads the time or waits (event times, deadlines, leases,
heartbeats, backoff, the embedded timers) does it through one ``Clock``, so a
test can drive all of them with ``legato.testing.FakeClock`` instead of
waiting on the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Unix time and timed callbacks on the running event loop."""

    def now(self) -> float:
        """Seconds since the epoch."""

    def call_at(self, at: float, callback: Callable[[], None]) -> Cancellable:
        """Call ``callback`` once (on the event loop) when ``now() >= at``."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class SystemClock:
    """The wall clock and the event loop's timers."""

    def now(self) -> float:
        return time.time()

    def call_at(self, at: float, callback: Callable[[], None]) -> Cancellable:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, at - time.time()), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
