"""Step identity: which execution of which node a step is.

A step id is the node id plus its position: ``check`` (outside loops),
``check#3`` (loop iteration 3), ``resize[17]`` (item 17 of a foreach node),
``resize#3[17]`` (both). The string form is what jobs, records and history
carry; ``StepId`` is the one place it is built and parsed. Node ids cannot
contain ``#``, ``[`` or ``]`` (the compiler checks), so parsing is unambiguous.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple


class StepId(NamedTuple):
    """A step's node, loop iteration (``None`` outside a loop) and foreach item
    (``None`` for a node's own step)."""

    node: str
    iteration: int | None = None
    item: int | None = None

    def __str__(self) -> str:
        base = self.node if self.iteration is None else f"{self.node}#{self.iteration}"
        return base if self.item is None else f"{base}[{self.item}]"

    @property
    def parent(self) -> str:
        """The step id of the node's own step (a foreach item's parent)."""
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


def item_step(parent: str, index: int) -> str:
    """The step id of item ``index`` of the foreach step ``parent``."""
    return f"{parent}[{index}]"


@lru_cache(maxsize=65_536)
def _parse(text: str) -> StepId:
    index = None
    if text.endswith("]"):
        base, sep, pos = text[:-1].rpartition("[")
        if sep and pos.isdigit():
            text, index = base, int(pos)
    node, sep, it = text.rpartition("#")
    if sep and it.isdigit():
        return StepId(node, int(it), index)
    return StepId(text, None, index)
