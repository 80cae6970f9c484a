"""Keeping a command's stdout for its own output.

``stdout_to_stderr``: while nodes run in this process (`legato run`), what they
print goes to stderr, so stdout holds only the command's JSON. Both levels are
redirected: ``sys.stdout`` (``print``) and file descriptor 1 (C extensions,
subprocesses, anything that writes to the descriptor itself).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    saved_stdout = sys.stdout
    sys.stdout.flush()
    try:
        saved_fd: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no descriptor 1 (a closed stdout): nothing to keep apart
        saved_fd = None
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved_stdout
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def quiet_broken_pipe() -> int:
    """After stdout's reader went away (``legato history RUN | head -1``): point
    descriptor 1 at /dev/null, so that the interpreter's last flush says nothing,
    and give the shell's exit code for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
    finally:
        os.close(devnull)
    return 141
