"""Bounds on what Legato reads from users, in one place.

A blueprint is user input: a file of a few hundred bytes can otherwise ask for
gigabytes (a YAML alias bomb) or crash the reader (deep nesting). Each bound is
checked before the costly step it protects, and exceeding it is a ``Problem``,
never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds on user input. Defaults suit hand-written and generated
    blueprints alike; raise them only for unusually large documents."""

    document_bytes: int = 1 << 20
    """Largest blueprint file read, in bytes (1 MiB); checked before parsing."""

    aliases: int = 10_000
    """Most values that repeated references may add once expanded: YAML aliases
    (``*name``), or one object placed several times in a dict given in Python.
    Ten aliases of a 100-value mapping add 1,000."""

    depth: int = 100
    """Deepest nesting of mappings and lists, the document itself being level 1.
    Kept well below Python's recursion limit, which the readers and encoders
    would otherwise hit as a ``RecursionError``."""


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()
