"""Options several commands share: ``--dev`` for the admin commands, the run input."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--input JSON`` or ``--input-file PATH`` (``-``: standard input)."""
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--input", metavar="JSON", help="the run's input, as JSON")
    given.add_argument(
        "--input-file", metavar="PATH", help="a file holding the input as JSON ('-': stdin)"
    )


def read_input(args: argparse.Namespace) -> Any:
    """The value ``add_input_arguments``' options give (None when neither is given)."""
    if args.input_file == "-":
        text, source = sys.stdin.read(), "--input-file - (stdin)"
    elif args.input_file:
        try:
            text = Path(args.input_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--input-file: {exc.strerror}: {args.input_file}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"--input-file: not UTF-8 text: {args.input_file}") from exc
        source = args.input_file
    elif args.input is not None:
        text, source = args.input, "--input"
    else:
        return None
    return json_value(text, source)


def json_value(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise UsageError(f"{source}: JSON nested too deeply") from None


def port_in_use(port: int, flag: str, reason: str) -> str:
    """The message for a port this process could not listen on."""
    return (
        f"cannot listen on port {port} ({reason}): another process (another worker?) "
        f"has it; give this one another with {flag} PORT (0: none)"
    )
