"""Process-wide OpenTelemetry setup for long-running commands (the worker).

Metrics: a ``MeterProvider`` with a Prometheus reader; ``install_metrics()``
returns the function that renders ``/metrics``. Tracing: an SDK
``TracerProvider`` without exporters, so steps get spans and their log lines
a ``trace_id`` that follows the run across workers (the trace context travels
with the jobs). A provider installed before (by ``opentelemetry-instrument``,
say) is kept: OpenTelemetry allows one per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from opentelemetry import metrics, trace


class MetricsPage(NamedTuple):
    """What ``/metrics`` answers: a content type and a renderer."""

    content_type: str
    render: Callable[[], bytes]


_page: MetricsPage | None = None


def install_metrics() -> MetricsPage:
    """Install the Prometheus-backed MeterProvider once; ``/metrics`` shows the
    ``legato_*`` metrics plus the process and Python runtime metrics."""
    global _page
    if _page is None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        reader = PrometheusMetricReader()
        resource = Resource.create({"service.name": "legato-worker"})
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader], resource=resource))
        _page = MetricsPage(CONTENT_TYPE_LATEST, lambda: generate_latest(REGISTRY))
    return _page


def install_tracing() -> None:
    """Give the process a TracerProvider (no exporter) unless one is set already."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(
            TracerProvider(resource=Resource.create({"service.name": "legato-worker"}))
        )
