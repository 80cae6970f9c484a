"""Step identity: which execution of which node a step is.

A step id is the node id plus its position: ``check`` (outside loops),
``check#3`` (loop iteration 3). The string form is what jobs, records and
history carry; ``StepId`` is the one place it is built and parsed. Node ids
cannot contain ``#`` (the compiler checks), so parsing is unambiguous.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class StepId(NamedTuple):
    """A step's node and loop iteration (``None`` outside a loop)."""

    node: str
    iteration: int | None = None

    def __str__(self) -> str:
        return self.node if self.iteration is None else f"{self.node}#{self.iteration}"

    @property
    def position(self) -> int:
        """The loop iteration, 0 outside a loop (the order key of context writes)."""
        return self.iteration or 0

    @staticmethod
    def parse(text: str) -> StepId:
        """The ``StepId`` of a step id string (cached: ids repeat)."""
        return _parse(text)

    @staticmethod
    def of(node: str, iteration: int, looped: bool) -> str:
        """The step id string of ``node`` at ``iteration`` (``looped``: inside a loop)."""
        return f"{node}#{iteration}" if looped else node


@lru_cache(maxsize=65_536)
def _parse(text: str) -> StepId:
    node, sep, it = text.rpartition("#")
    if sep and it.isdigit():
        return StepId(node, int(it))
    return StepId(text)
