"""pytest fixtures for testing workflows in memory. Enable them in a ``conftest.py``::

    pytest_plugins = ["legato.testing.plugin"]

Fixtures:
    legato_clock: a ``FakeClock``.
    legato_engine: an embedded engine on that clock (closed after the test), its
        workers not started: drive it with ``Pump`` or ``engine.start_workers()``.
    run_blueprint: ``await run_blueprint(blueprint, input)`` runs a blueprint (a
        path, a ``Flow``, a ``Registry``) to its end on a fresh embedded engine,
        advancing the fake clock through its timers, and returns its ``RunResult``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import legato
from legato.runtime.control import RunResult
from legato.testing import FakeClock, Pump, backend


@pytest.fixture
def legato_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def legato_engine(legato_clock: FakeClock) -> AsyncIterator[legato.Engine]:
    engine = legato.Engine(backend(legato_clock), owns_backend=True)
    yield engine
    await engine.close()


RunBlueprint = Callable[..., Awaitable[RunResult]]


@pytest.fixture
def run_blueprint(legato_clock: FakeClock) -> RunBlueprint:
    async def run(blueprint: Any, input: Any = None, *, limit: float = 86_400.0) -> RunResult:
        registry = (
            blueprint if isinstance(blueprint, legato.Registry) else legato.compile(blueprint)
        )
        engine = legato.Engine(backend(legato_clock), owns_backend=True)
        try:
            run_id = await engine.start(registry, input)
            pump = Pump(engine)
            start = legato_clock.now()
            while True:
                await pump.run()
                header = await engine.status(run_id)
                if header.status != "running":
                    return await engine.result(header)
                due = legato_clock.next_at()
                if due is None or due - start > limit:
                    raise TimeoutError(f"run {run_id} waits for something no timer brings")
                await legato_clock.advance(max(0.0, due - legato_clock.now()))
        finally:
            await engine.close()

    return run
