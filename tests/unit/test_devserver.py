"""`legato dev` fails clearly: a busy port, a missing tool, a server that dies."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from legato import devserver
from legato.devserver import DevOptions, DevServerError, provision
from legato.devserver.process import spawn, stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        opts = DevOptions(
            data_dir=tmp_path, redis_port=port, kafka_port=free_port(), cassandra_port=free_port()
        )
        with pytest.raises(DevServerError, match=f"port {port} \\(redis\\) is in use"):
            devserver.up(opts, say=lambda m: None)


def test_a_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DevServerError, match="`mvn` is not installed; it is needed to fetch"):
        provision.require("mvn", "fetch the kafka jars from Maven Central")


def test_a_server_that_dies_during_start_is_reported_with_its_log(tmp_path: Path) -> None:
    opts = DevOptions(data_dir=tmp_path, start_timeout=5)
    log = opts.server_dir("kafka") / "server.log"
    pidfile = opts.server_dir("kafka") / "pid"
    log.parent.mkdir(parents=True)
    spawn(["sh", "-c", "echo 'FATAL: cannot bind'; exit 3"], cwd=tmp_path, log=log, pidfile=pidfile)
    with pytest.raises(DevServerError) as err:
        devserver._wait_ready(opts, say=lambda m: None)
    assert "kafka exited during start" in str(err.value)
    assert "FATAL: cannot bind" in str(err.value)
    assert str(log) in str(err.value)


def test_stop_when_not_running(tmp_path: Path) -> None:
    assert stop(tmp_path / "pid", "redis") == "not running"
    pid_path = tmp_path / "pid2"
    spawn(["sleep", "30"], cwd=tmp_path, log=tmp_path / "l", pidfile=pid_path)
    assert stop(pid_path, "sleep") == "stopped"
    assert not pid_path.exists()
