"""Implementations of the runtime's ports: ``memory`` (embedded), ``kafka``,
``cassandra`` and ``redis`` (distributed), and ``open_backend`` to build one."""

from __future__ import annotations

from legato.adapters.backend import open_backend

__all__ = ["open_backend"]
