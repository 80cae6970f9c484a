"""Read-only values that encode like ordinary ones.

A node's params are shared by all its steps, so nodes get them read-only. They
must still be values a node can pass on (return, write to the context), which
msgspec encodes: ``MappingProxyType`` is not one of those, a ``dict`` subclass
and a ``tuple`` are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutators raise ``TypeError``; ``dict(d)`` or ``d.copy()``
    gives a mutable copy."""

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError("read-only mapping (node params): copy it first, e.g. dict(ctx.params)")

    def __setitem__(self, key: str, value: Any) -> None:
        self._refuse()

    def __delitem__(self, key: str) -> None:
        self._refuse()

    # dict's |= returns Self; refusing returns nothing, which mypy calls unsafe overlap
    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self) -> None:
        self._refuse()

    def pop(self, key: str, *default: Any) -> Any:
        self._refuse()

    def popitem(self) -> tuple[str, Any]:
        self._refuse()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        # The default (for pickle and copy) rebuilds it item by item with __setitem__.
        return (FrozenDict, (dict(self),))


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become ``FrozenDict``, lists ``tuple``, sets
    ``frozenset``; nodes cannot mutate what other steps share."""
    if isinstance(value, Mapping):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    return value
