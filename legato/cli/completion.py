"""`legato completion bash|zsh|fish`: shell completion of commands, options and choices.

The script asks `legato` itself what completes the line (argcomplete), so it
always matches the installed version's commands and options.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

SHELLS = ("bash", "zsh", "fish")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print the completion script of a shell. bash: add "
        '`eval "$(legato completion bash)"` to ~/.bashrc; zsh: `eval "$(legato '
        'completion zsh)"` in ~/.zshrc; fish: `legato completion fish > '
        "~/.config/fish/completions/legato.fish`.",
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["legato"], shell=args.shell), end="")
    return 0


def complete_if_asked(parser: argparse.ArgumentParser, **kwargs: Any) -> None:
    """Answer a completion request of the script above (it sets ``_ARGCOMPLETE``) and
    exit; do nothing otherwise."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser, **kwargs)
