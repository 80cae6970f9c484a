"""Starting and stopping server processes that outlive the command that started them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from legato.devserver.options import DevServerError

ROTATE_BYTES = 32 * 1024 * 1024


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def read_pid(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process is alive and is the one started there.

    Servers run with their folder (the pid file's) as working directory; a pid
    reused by an unrelated process after a reboot or crash does not count.
    """
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    if not alive(pid):
        return None
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return pid  # no /proc, or not ours to inspect: trust the pid file
    return pid if cwd == pidfile.parent.resolve() else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        if state == "Z":  # a zombie has exited; reap it if it is our child
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def spawn(cmd: list[str], *, cwd: Path, log: Path, pidfile: Path) -> int:
    """Start ``cmd`` in its own session, output appended to ``log``; returns its pid.

    A log larger than ``ROTATE_BYTES`` is first moved to ``<log>.1``.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if log.stat().st_size > ROTATE_BYTES:
            log.replace(log.with_name(log.name + ".1"))
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise DevServerError(f"cannot start {cmd[0]!r}: not found on PATH") from exc
    pidfile.write_text(str(proc.pid))
    return proc.pid


def port_users(ports: dict[str, int]) -> list[str]:
    """``"port N (what)"`` for each of ``ports`` already accepting connections."""
    return [f"port {port} ({what})" for what, port in ports.items() if port_open(port)]


def stop(pidfile: Path, name: str, timeout: float = 60.0) -> str:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; returns what happened."""
    pid = read_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return "not running"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_exit(pid, timeout):
        pidfile.unlink(missing_ok=True)
        return "stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_exit(pid, 10.0)
    pidfile.unlink(missing_ok=True)
    return f"killed with SIGKILL: {name} did not stop within {timeout:.0f}s of SIGTERM"


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])
