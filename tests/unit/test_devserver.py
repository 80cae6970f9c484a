"""`legato dev` fails clearly: a busy port, a missing tool, a server that dies or hangs."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from legato import devserver
from legato.cli import build_parser, dev, main
from legato.devserver import DevOptions, DevServerError, provision
from legato.devserver.process import read_pid, spawn, stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def isolated(tmp_path: Path, **overrides: Any) -> DevOptions:
    """Options whose ports are all free, so nothing collides with running servers."""
    ports = {
        name: free_port()
        for name in (
            "kafka_port",
            "kafka_controller_port",
            "cassandra_port",
            "cassandra_storage_port",
            "redis_port",
        )
    }
    return DevOptions(data_dir=tmp_path, jar_dir=tmp_path / "jars", **{**ports, **overrides})


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield int(busy.getsockname()[1])


def test_a_busy_port_is_named(tmp_path: Path, listening: int) -> None:
    with pytest.raises(DevServerError) as err:
        devserver.up(isolated(tmp_path, redis_port=listening), say=lambda m: None)
    assert f"cannot start redis: port {listening} (--redis-port) is in use" in str(err.value)


def test_a_busy_internal_port_is_named(tmp_path: Path, listening: int) -> None:
    with pytest.raises(DevServerError) as err:
        devserver.up(isolated(tmp_path, kafka_controller_port=listening), say=lambda m: None)
    assert f"port {listening} (--kafka-controller-port) is in use" in str(err.value)


def test_a_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DevServerError, match="`mvn` is not installed; it is needed to fetch"):
        provision.require("mvn", "fetch the kafka jars from Maven Central")


def test_missing_java_stops_up_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DevServerError, match="`java` is not installed; it is needed to run Kafka"):
        devserver.up(isolated(tmp_path), say=lambda m: None)
    assert devserver.status(isolated(tmp_path))["redis"]["pid"] is None


def test_missing_mvn_when_jars_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DevServerError, match="`mvn` is not installed; it is needed to fetch the"):
        provision.jars("cassandra", tmp_path / "jars")


def test_missing_redis_and_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DevServerError, match="`apt-get` is not installed; it is needed to install"):
        provision.redis_server()


def test_a_server_that_dies_during_start_is_reported_with_its_log(tmp_path: Path) -> None:
    opts = isolated(tmp_path, start_timeout=5)
    log = opts.server_dir("kafka") / "server.log"
    pidfile = opts.server_dir("kafka") / "pid"
    log.parent.mkdir(parents=True)
    dies = ["sh", "-c", "echo 'FATAL: cannot bind'; exit 3"]
    spawn(dies, cwd=log.parent, log=log, pidfile=pidfile)
    with pytest.raises(DevServerError) as err:
        devserver._wait_ready(opts, say=lambda m: None, names=("kafka",))
    assert "kafka exited during start" in str(err.value)
    assert "FATAL: cannot bind" in str(err.value)
    assert str(log) in str(err.value)


def test_a_server_that_never_answers_times_out_naming_its_log(tmp_path: Path) -> None:
    opts = isolated(tmp_path, start_timeout=1.0)
    for name in devserver.SERVERS:
        home = opts.server_dir(name)
        home.mkdir(parents=True)
        spawn(["sleep", "30"], cwd=home, log=home / "server.log", pidfile=home / "pid")
    try:
        with pytest.raises(DevServerError) as err:
            devserver._wait_ready(opts, say=lambda m: None)
        assert "kafka did not answer within 1s" in str(err.value)
        assert str(opts.server_dir("kafka") / "server.log") in str(err.value)
        assert {s["state"] for s in devserver.status(opts).values()} == {"starting"}
    finally:
        assert set(devserver.down(opts, timeout=5).values()) == {"stopped"}


def test_stop_when_not_running(tmp_path: Path) -> None:
    assert stop(tmp_path / "pid", "redis") == "not running"
    pid_path = tmp_path / "pid2"
    spawn(["sleep", "30"], cwd=tmp_path, log=tmp_path / "l", pidfile=pid_path)
    assert stop(pid_path, "sleep") == "stopped"
    assert not pid_path.exists()


def test_a_server_ignoring_sigterm_is_killed_and_said_so(tmp_path: Path) -> None:
    pid_path = tmp_path / "pid"
    ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    pid = spawn([sys.executable, "-c", ignore], cwd=tmp_path, log=tmp_path / "l", pidfile=pid_path)
    for _ in range(250):  # until the interpreter ignores SIGTERM
        if _ignores_term(pid):
            break
        time.sleep(0.02)
    result = stop(pid_path, "stubborn", timeout=0.5)
    assert result == "killed with SIGKILL: stubborn did not stop within 0s of SIGTERM"
    assert read_pid(pid_path) is None


def _ignores_term(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << 14))  # bit 15 = SIGTERM
    return False


def test_a_reused_pid_is_not_taken_for_a_server(tmp_path: Path) -> None:
    # Our own pid is alive but runs elsewhere: not a server started in tmp_path.
    (tmp_path / "pid").write_text(str(os.getpid()))
    assert read_pid(tmp_path / "pid") is None


def test_data_dir_from_flag_or_environment(tmp_path: Path) -> None:
    parser = build_parser()
    args = parser.parse_args(["dev", "status"])
    assert dev.options(args, {"LEGATO_DEV_DIR": str(tmp_path)}).data_dir == tmp_path
    flagged = parser.parse_args(["dev", "status", "--data-dir", str(tmp_path / "x")])
    assert dev.options(flagged, {"LEGATO_DEV_DIR": "/elsewhere"}).data_dir == tmp_path / "x"
    assert dev.options(args, {}).data_dir == DevOptions().data_dir


def test_cli_reports_the_error_and_exits_1(
    tmp_path: Path, listening: int, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = isolated(tmp_path, redis_port=listening)
    argv = ["dev", "up", "--data-dir", str(tmp_path)]
    ports = ("kafka_port", "kafka_controller_port", "cassandra_port", "cassandra_storage_port")
    for field in ports:
        argv += ["--" + field.replace("_", "-"), str(getattr(opts, field))]
    assert main([*argv, "--redis-port", str(listening)]) == 1
    assert f"legato dev: cannot start redis: port {listening}" in capsys.readouterr().err


def test_a_large_log_is_rotated_on_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from legato.devserver import process

    monkeypatch.setattr(process, "ROTATE_BYTES", 10)
    log = tmp_path / "server.log"
    log.write_text("an old, long log\n")
    spawn(["true"], cwd=tmp_path, log=log, pidfile=tmp_path / "pid")
    assert (tmp_path / "server.log.1").read_text() == "an old, long log\n"
    assert "an old" not in log.read_text()
