"""Local Kafka, Cassandra and Redis for development and tests (``legato dev``).

Everything comes from package registries: the Kafka and Cassandra jars from
Maven Central, ``redis-server`` from apt. The servers run as plain processes
on 127.0.0.1 and outlive the command that started them.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from legato.devserver import configs, probes, provision
from legato.devserver.options import (
    CASSANDRA_VERSION,
    KAFKA_VERSION,
    DevOptions,
    DevServerError,
)
from legato.devserver.process import port_open, port_users, read_pid, spawn, stop, tail

SERVERS = ("kafka", "cassandra", "redis")

__all__ = ["SERVERS", "DevOptions", "DevServerError", "down", "logs", "status", "up"]


@dataclass
class _Paths:
    opts: DevOptions
    name: str

    @property
    def pidfile(self) -> Any:
        return self.opts.server_dir(self.name) / "pid"

    @property
    def log(self) -> Any:
        return self.opts.server_dir(self.name) / "server.log"


def _port(opts: DevOptions, name: str) -> int:
    return {"kafka": opts.kafka_port, "cassandra": opts.cassandra_port, "redis": opts.redis_port}[
        name
    ]


def _bound_ports(opts: DevOptions, name: str) -> dict[str, int]:
    """Every port ``name`` listens on, by the flag that sets it."""
    return {
        "kafka": {
            "--kafka-port": opts.kafka_port,
            "--kafka-controller-port": opts.kafka_controller_port,
        },
        "cassandra": {
            "--cassandra-port": opts.cassandra_port,
            "--cassandra-storage-port": opts.cassandra_storage_port,
        },
        "redis": {"--redis-port": opts.redis_port},
    }[name]


def _ready(opts: DevOptions, name: str) -> bool:
    port = _port(opts, name)
    if not port_open(port):
        return False
    if name == "redis":
        return probes.redis_ping(port)
    if name == "cassandra":
        return probes.cassandra_query(port) is not None
    return probes.kafka_roundtrip(port)


def _redis_version() -> str | None:
    try:
        out = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        return None
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return None


def status(opts: DevOptions) -> dict[str, dict[str, Any]]:
    """Each server's state (running / stopped / starting / foreign), pid, port, version."""
    out: dict[str, dict[str, Any]] = {}
    versions = {"kafka": KAFKA_VERSION, "cassandra": CASSANDRA_VERSION, "redis": _redis_version()}
    for name in SERVERS:
        paths = _Paths(opts, name)
        pid = read_pid(paths.pidfile)
        port = _port(opts, name)
        listening = port_open(port)
        if pid is None:
            state = "foreign" if listening else "stopped"
        else:
            state = "running" if listening else "starting"
        out[name] = {
            "state": state,
            "pid": pid,
            "port": port,
            "version": versions[name],
            "log": str(paths.log),
        }
    return out


def up(opts: DevOptions, *, say: Any = print) -> dict[str, float]:
    """Provision what is missing, start what is not running, and return when every
    server answers a real request. Returns seconds spent per phase."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    current = status(opts)
    todo = [n for n in SERVERS if current[n]["state"] in ("stopped", "foreign")]
    for name in todo:
        busy = port_users(_bound_ports(opts, name))
        if busy:
            raise DevServerError(
                f"cannot start {name}: {busy[0]} is in use by a process that legato did not "
                f"start from {opts.data_dir}; stop it or choose another port with that flag"
            )
    if todo:
        java = provision.require("java", "run Kafka and Cassandra") if set(todo) - {"redis"} else ""
        with ThreadPoolExecutor(3) as pool:
            libs = {n: pool.submit(provision.jars, n, opts.jar_dir) for n in todo if n != "redis"}
            redis_bin = pool.submit(provision.redis_server) if "redis" in todo else None
            resolved = {n: f.result() for n, f in libs.items()}
            binary = redis_bin.result() if redis_bin else ""
        timings["provision"] = time.monotonic() - t0
        for name in todo:
            _start(opts, name, resolved.get(name), java, binary, say)
    t1 = time.monotonic()
    _wait_ready(opts, say)
    timings["ready"] = time.monotonic() - t1
    timings["total"] = time.monotonic() - t0
    return timings


def _start(opts: DevOptions, name: str, lib: Any, java: str, redis_bin: str, say: Any) -> None:
    paths = _Paths(opts, name)
    paths.log.parent.mkdir(parents=True, exist_ok=True)
    if name == "kafka":
        cmd, fmt = configs.kafka(opts, lib, java)
        if fmt is not None:
            proc = subprocess.run(fmt, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise DevServerError(
                    f"formatting Kafka's storage failed:\n{proc.stdout}{proc.stderr}"
                )
    elif name == "cassandra":
        cmd = configs.cassandra(opts, lib, java)
    else:
        cmd = configs.redis(opts, redis_bin)
    pid = spawn(cmd, cwd=opts.server_dir(name), log=paths.log, pidfile=paths.pidfile)
    say(f"started {name} (pid {pid}, port {_port(opts, name)}, log {paths.log})")


def _wait_ready(opts: DevOptions, say: Any, names: tuple[str, ...] = SERVERS) -> None:
    deadline = time.monotonic() + opts.start_timeout
    pending = list(names)
    while pending:
        for name in list(pending):
            paths = _Paths(opts, name)
            if read_pid(paths.pidfile) is None:
                raise DevServerError(
                    f"{name} exited during start; its log ({paths.log}) ends with:\n"
                    f"{tail(paths.log, 30)}"
                )
            if _ready(opts, name):
                pending.remove(name)
                say(f"{name} is ready on 127.0.0.1:{_port(opts, name)}")
        if pending and time.monotonic() > deadline:
            name = pending[0]
            raise DevServerError(
                f"{name} did not answer within {opts.start_timeout:.0f}s; log: "
                f"{_Paths(opts, name).log}\n{tail(_Paths(opts, name).log, 30)}"
            )
        if pending:
            time.sleep(0.5)


def down(opts: DevOptions, timeout: float = 60.0) -> dict[str, str]:
    """Stop every server legato started from ``opts.data_dir``: SIGTERM, wait up to
    ``timeout`` seconds, then SIGKILL. Returns what happened to each."""
    with ThreadPoolExecutor(3) as pool:
        futures = {n: pool.submit(stop, _Paths(opts, n).pidfile, n, timeout) for n in SERVERS}
        return {n: f.result() for n, f in futures.items()}


def logs(opts: DevOptions, name: str, lines: int) -> str:
    """The last ``lines`` lines of ``name``'s log."""
    return tail(_Paths(opts, name).log, lines)
