"""OTLP export (``legato[otlp]``) by the standard OTEL_* variables: which signals, and
spans of a real run received by an OTLP/HTTP endpoint (in a child process: a process
gets one tracer provider)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from legato.telemetry import otlp_signals

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, set()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, {"traces", "metrics"}),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, {"traces"}),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, {"traces"}),
        (
            {"OTEL_TRACES_EXPORTER": "console, otlp", "OTEL_METRICS_EXPORTER": "otlp"},
            {"traces", "metrics"},
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"},
            {"traces"},
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, set()),
    ],
)
def test_the_signals_the_environment_asks_for(environ: dict[str, str], expected: set[str]) -> None:
    assert otlp_signals(environ) == expected


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


CHILD = """
import os, legato
from opentelemetry import metrics, trace
from legato.telemetry import install_otlp

assert install_otlp(os.environ) == {"traces", "metrics"}

async def one(ctx):
    return 1

result = legato.run_sync(legato.Flow("otlp_flow").node("a", one), None)
assert result.status == "completed", result
trace.get_tracer_provider().shutdown()
metrics.get_meter_provider().shutdown()
"""


def test_spans_and_metrics_of_a_run_reach_the_otlp_endpoint(collector: str) -> None:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
        "OTEL_SERVICE_NAME": "otlp-test-service",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    paths = {path for path, _ in _Collector.received}
    assert {"/v1/traces", "/v1/metrics"} <= paths
    traces = b"".join(body for path, body in _Collector.received if path == "/v1/traces")
    assert b"step a" in traces and b"run otlp_flow" in traces
    assert b"otlp-test-service" in traces  # OTEL_SERVICE_NAME is honoured
    sent = b"".join(body for path, body in _Collector.received if path == "/v1/metrics")
    assert b"legato_steps_started" in sent


def test_otlp_asked_for_without_the_extra_is_a_config_error() -> None:
    child = (
        "import sys; sys.modules['opentelemetry.exporter.otlp.proto.http'] = None\n"
        "from legato.telemetry import install_otlp\n"
        "from legato.runtime.errors import ConfigError\n"
        "try:\n"
        "    install_otlp({'OTEL_TRACES_EXPORTER': 'otlp'})\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert "pip install 'legato[otlp]'" in done.stdout, done.stderr
