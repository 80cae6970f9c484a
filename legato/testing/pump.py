"""Driving an engine's jobs by hand, in an order the test picks."""

from __future__ import annotations

from collections.abc import Callable

from legato.adapters.memory import MemoryJobBus
from legato.runtime.engine import Engine
from legato.schemas import Job

Pick = Callable[[list[Job]], int]


class Pump:
    """Takes the jobs an engine's memory bus holds and hands them to the step pipeline
    one at a time (no worker tasks run): a test decides the order, repeats a job, or
    holds one back, and sees every job's effects before the next.

    Example::

        engine = legato.Engine(memory_backend())
        run_id = await engine.start(registry, 1)
        await Pump(engine).run()  # until no job is left
    """

    def __init__(self, engine: Engine) -> None:
        bus = engine.backend.bus
        if not isinstance(bus, MemoryJobBus):
            raise TypeError("Pump drives an engine on a memory bus (legato.testing.backend)")
        self.engine = engine
        self.bus = bus
        self.queue: list[Job] = []
        self.handled: list[Job] = []

    def collect(self) -> list[Job]:
        """Move what the bus holds into ``queue``; returns ``queue``."""
        self.queue.extend(d.job for d in self.bus.take())
        return self.queue

    async def handle(self, job: Job) -> None:
        """Hand ``job`` to the pipeline now (it may be one handled before)."""
        await self.engine.handle(job)
        self.handled.append(job)

    async def step(self, index: int = 0) -> Job:
        """Handle the ``index``-th queued job; returns it."""
        job = self.collect().pop(index)
        await self.handle(job)
        return job

    async def run(self, pick: Pick | None = None, *, limit: int = 100_000) -> int:
        """Handle queued jobs until none is left (``pick`` chooses the next one's
        index, default the oldest); returns how many were handled."""
        count = 0
        while self.collect():
            if count >= limit:
                raise RuntimeError(f"still {len(self.queue)} jobs after {limit}")
            await self.step(pick(self.queue) if pick is not None else 0)
            count += 1
        return count
