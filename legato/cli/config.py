"""`legato config reference`: every setting, its variable or key, default and meaning."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="configuration reference")
    sub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    reference = sub.add_parser(
        "reference",
        help="print every setting as Markdown (docs/configuration.md)",
        description="Print every setting (environment variables, TOML keys, URL parts, "
        "the options of `legato worker` and `legato reconcile`) with its default and "
        "meaning, as Markdown. docs/configuration.md is this output.",
    )
    reference.set_defaults(func=_reference)


def _reference(args: argparse.Namespace) -> int:
    from legato.config_reference import render

    print(render(), end="")
    return 0
