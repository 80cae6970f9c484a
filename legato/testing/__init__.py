"""Testing Legato workflows and adapters, for users and for this project.

- ``backend(clock=..., **overrides)``: an embedded backend, with any port replaced.
- ``FakeClock``: time that moves only when the test says, driving durable timers,
  heartbeats and backoff (no wall-clock waits in timer tests).
- ``Pump``: hand a run's jobs to the step pipeline one by one, in any order.
- ``Faults``: make a port's chosen calls fail.
- ``legato.testing.contract``: the contract suite of each port, for any adapter.
- ``legato.testing.plugin``: pytest fixtures (``pytest_plugins = ["legato.testing.plugin"]``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from legato.adapters.memory import memory_backend
from legato.runtime.clock import SYSTEM_CLOCK, Clock
from legato.runtime.ports import Backend
from legato.testing.clock import FakeClock, settle
from legato.testing.faults import Faults
from legato.testing.pump import Pump


def backend(clock: Clock | None = None, **overrides: Any) -> Backend:
    """A fresh embedded backend on ``clock``; keyword arguments replace its ports
    (``store=``, ``coordinator=``, ``bus=``, ``timers=``, ``blueprints=``). A
    replaced ``store`` is the blueprint store too unless ``blueprints`` is given."""
    base = memory_backend(clock or SYSTEM_CLOCK)
    if "store" in overrides and "blueprints" not in overrides:
        overrides["blueprints"] = overrides["store"]
    return dataclasses.replace(base, **overrides)


__all__ = ["FakeClock", "Faults", "Pump", "backend", "settle"]
