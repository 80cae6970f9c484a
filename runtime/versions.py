"""Blueprint versions in natural order: ``2`` before ``10``, ``1.2`` before ``1.10``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key comparing the digit runs of ``version`` as numbers, the rest as text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _PART.split(version) if part
    )
