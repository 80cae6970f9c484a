"""Making a port fail on purpose, call by call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Faults:
    """Wraps a port (or any object with async methods) and makes chosen calls raise.

    Example::

        store = Faults(MemoryRunStore())
        store.fail("resolve_step", BackendUnavailableError("down"), times=2)
        backend = legato.testing.backend(store=store)

    Calls pass through to the wrapped object; ``calls[name]`` counts them, failed
    ones included. ``when`` restricts a fault to calls whose arguments it accepts.
    """

    def __init__(self, target: Any) -> None:
        self._target = target
        self._faults: dict[str, list[tuple[BaseException, int, Callable[..., bool] | None]]] = {}
        self.calls: dict[str, int] = {}

    def fail(
        self,
        name: str,
        error: BaseException,
        *,
        times: int = 1,
        when: Callable[..., bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``name`` (matching ``when``) raise ``error``."""
        self._faults.setdefault(name, []).append((error, times, when))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            faults = self._faults.get(name, [])
            for i, (error, times, when) in enumerate(faults):
                if times > 0 and (when is None or when(*args, **kwargs)):
                    faults[i] = (error, times - 1, when)
                    raise error
            return await attr(*args, **kwargs)

        return call
