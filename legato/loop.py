"""The event loop Legato's processes run on: uvloop where it is installed.

uvloop (a dependency on Linux and macOS) cuts the loop's own cost per step
(callbacks, sockets, timers) by about a fifth in ``bench/load.py``. Set
``LEGATO_EVENT_LOOP=asyncio`` to run on the standard loop instead (to compare,
or to rule the loop out when debugging).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from legato.runtime.errors import ConfigError

T = TypeVar("T")

_CHOICES = ("uvloop", "asyncio")


def loop_factory(env: dict[str, str] | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of the loop to run on, from ``LEGATO_EVENT_LOOP`` (default uvloop
    when it can be imported, else asyncio)."""
    choice = (env if env is not None else os.environ).get("LEGATO_EVENT_LOOP", "").lower()
    if choice and choice not in _CHOICES:
        raise ConfigError(f"LEGATO_EVENT_LOOP must be one of {', '.join(_CHOICES)}, not {choice!r}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ConfigError("LEGATO_EVENT_LOOP=uvloop but uvloop is not installed") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory`` chooses."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
