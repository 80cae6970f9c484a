"""Options several commands share: ``--dev`` for the admin commands."""

from __future__ import annotations

import argparse

from legato.cli import UsageError


def add_dev_argument(parser: argparse.ArgumentParser, server: str) -> None:
    parser.add_argument(
        "--dev",
        action="store_true",
        help=f"with nothing configured, use the local {server} of `legato dev up` "
        "on 127.0.0.1 (without --dev, a configuration is required)",
    )


def require_configured(configured: bool, dev: bool, variable: str) -> None:
    """Refuse to fall back to 127.0.0.1 unless ``--dev`` said so."""
    if not configured and not dev:
        raise UsageError(
            f"nothing configured: set {variable} or pass --config FILE, or --dev for "
            "the local dev servers on 127.0.0.1"
        )
