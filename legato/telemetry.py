"""Process-wide OpenTelemetry setup for long-running commands (the worker).

Metrics: a ``MeterProvider`` with a Prometheus reader; ``install_metrics()``
returns the function that renders ``/metrics``. Tracing: an SDK
``TracerProvider`` without exporters, so steps get spans and their log lines
a ``trace_id`` that follows the run across workers (the trace context travels
with the jobs). A provider installed before (by ``opentelemetry-instrument``,
say) is kept: OpenTelemetry allows one per process.

OTLP (the ``legato[otlp]`` extra): ``install_otlp(environ)`` honours the standard
variables. Traces (or metrics) are exported when ``OTEL_TRACES_EXPORTER``
(``OTEL_METRICS_EXPORTER``) lists ``otlp``, or is unset while an OTLP endpoint is
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ...); the
exporters read the rest (endpoint, headers, timeout, compression), the resource
reads ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``, and
``OTEL_SDK_DISABLED=true`` turns it all off. Metrics still serve ``/metrics`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from opentelemetry import metrics, trace

from legato.runtime.errors import ConfigError

SERVICE = "legato-worker"


class MetricsPage(NamedTuple):
    """What ``/metrics`` answers: a content type and a renderer."""

    content_type: str
    render: Callable[[], bytes]


_page: MetricsPage | None = None


def _resource(environ: Mapping[str, str]) -> Any:
    from opentelemetry.sdk.resources import Resource

    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    return Resource.create({} if named else {"service.name": SERVICE})


def otlp_signals(environ: Mapping[str, str]) -> frozenset[str]:
    """The signals (``traces``, ``metrics``) the environment asks to export by OTLP."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return frozenset()
    wanted = set()
    for signal in ("traces", "metrics"):
        chosen = environ.get(f"OTEL_{signal.upper()}_EXPORTER")
        if chosen is not None:
            if "otlp" in {c.strip().lower() for c in chosen.split(",")}:
                wanted.add(signal)
        elif environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(
            f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
        ):
            wanted.add(signal)
    return frozenset(wanted)


def install_otlp(environ: Mapping[str, str]) -> frozenset[str]:
    """Export what ``otlp_signals`` says by OTLP/HTTP; returns those signals.

    Raises:
        ConfigError: OTLP export is asked for but ``legato[otlp]`` is not installed.
    """
    signals = otlp_signals(environ)
    if not signals:
        return signals
    try:
        from opentelemetry.exporter.otlp.proto.http import metric_exporter, trace_exporter
    except ImportError:
        raise ConfigError(
            "the environment asks for OTLP export (OTEL_*): pip install 'legato[otlp]'"
        ) from None
    if "traces" in signals and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=_resource(environ))
        provider.add_span_processor(BatchSpanProcessor(trace_exporter.OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    if "metrics" in signals:
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        exporter = metric_exporter.OTLPMetricExporter()
        install_metrics(PeriodicExportingMetricReader(exporter), resource=_resource(environ))
    return signals


def install_metrics(*readers: Any, resource: Any = None) -> MetricsPage:
    """Install the Prometheus-backed MeterProvider once (with ``readers`` besides);
    ``/metrics`` shows the ``legato_*`` metrics plus the process and Python runtime
    metrics."""
    global _page
    if _page is None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        reader = PrometheusMetricReader()
        resource = resource or Resource.create({"service.name": SERVICE})
        provider = MeterProvider(metric_readers=[reader, *readers], resource=resource)
        metrics.set_meter_provider(provider)
        _page = MetricsPage(CONTENT_TYPE_LATEST, lambda: generate_latest(REGISTRY))
    return _page


def install_tracing() -> None:
    """Give the process a TracerProvider (no exporter) unless one is set already."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(
            TracerProvider(resource=Resource.create({"service.name": SERVICE}))
        )
