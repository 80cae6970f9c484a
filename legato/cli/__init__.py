"""The `legato` command line.

Each subcommand lives in its own module with a ``register(subparsers)``
function; ``main`` wires them together. Exit codes: 0 success, 1 a run or
operation failed, 2 invalid input (usage, blueprint, configuration).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from legato.runtime.errors import LegatoError

# Modules under legato.cli that contribute subcommands, in help order.
_COMMAND_MODULES = (
    "run",
    "remote",
    "runs",
    "control",
    "schedule",
    "worker",
    "server",
    "reconcile",
    "dev",
    "schema",
    "topics",
    "config",
    "completion",
)


class UsageError(Exception):
    """A command was called with arguments it cannot use (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    from legato import __version__

    parser = argparse.ArgumentParser(prog="legato", description="Legato workflow runtime")
    parser.add_argument("--version", action="version", version=f"legato {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        module = importlib.import_module(f"legato.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from legato.cli.completion import complete_if_asked
    from legato.cli.streams import quiet_broken_pipe

    parser = build_parser()
    complete_if_asked(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except UsageError as exc:
        print(f"legato {args.command}: {exc}", file=sys.stderr)
        return 2
    except LegatoError as exc:
        from legato.config import ConfigError
        from legato.runtime.errors import RunInputError

        print(f"legato {args.command}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError | RunInputError) else 1
    except KeyboardInterrupt:
        return 130
