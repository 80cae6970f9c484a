"""Legato's OpenTelemetry metrics: every instrument, and one small function per hook.

Instruments come from the global ``MeterProvider``. Embedded use sets none, so
each hook is a call into OpenTelemetry's no-op proxy; a worker installs a
provider with a Prometheus reader (``legato.telemetry``) and they start
recording. ``use(provider)`` records on another provider (tests, embedding).

Counts are per handling: a job redelivered after a crash may count again.
``steps_failed`` counts failed attempts with no retry left (a fallback may still
complete the step); ``steps_retried`` counts failed attempts that will run again.
``runs_started`` counts runs created (a repeated start of one run id counts once) and
``runs_ended`` runs moved to a final ``status``, each once, by the process that ended
them; ``run_duration`` is start to end.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Protocol

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation


class LagSource(Protocol):
    """Something that consumes a topic and knows how far behind it is."""

    topic: str

    def lag(self) -> Mapping[int, int]:
        """Messages not yet fetched, by partition (last known)."""


_lag_sources: weakref.WeakSet[LagSource] = weakref.WeakSet()


def _observe_lag(options: CallbackOptions) -> Iterable[Observation]:
    for source in list(_lag_sources):
        for partition, lag in sorted(source.lag().items()):
            yield Observation(lag, {"topic": source.topic, "partition": partition})


_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_RECONCILER = {  # PassStats fields
    "scanned": "active runs looked at",
    "stalled": "runs without progress for the threshold",
    "resumed": "stalled runs whose steps were re-enqueued",
    "failed": "stalled runs failed because their history says so",
    "errors": "runs that could not be resumed",
    "jobs": "steps re-enqueued",
    "leased": "steps left alone because a live worker holds their lease",
    "parked": "stalled runs passed over: an earlier pass found nothing to do",
}


class _Instruments:
    def __init__(self, meter: metrics.Meter) -> None:
        c = meter.create_counter
        self.started = c("legato_steps_started", description="Step attempts started")
        self.completed = c("legato_steps_completed", description="Steps completed")
        self.failed = c("legato_steps_failed", description="Step attempts failed, no retry left")
        self.retried = c("legato_steps_retried", description="Step attempts failed and retried")
        self.skipped = c("legato_steps_skipped", description="Steps skipped (dead paths)")
        self.joins = c("legato_joins_fired", description="Joins that decided to run their step")
        self.dead = c("legato_deadlettered_messages", description="Messages dead-lettered")
        self.timers = c("legato_timers_fired", description="Due timers fired (jobs published)")
        self.reconciler = {
            name: c(f"legato_reconciler_{name}", description=f"Reconciler: {what}")
            for name, what in _RECONCILER.items()
        }
        self.runs_started = c("legato_runs_started", description="Runs started")
        self.runs_ended = c("legato_runs_ended", description="Runs ended, by final status")
        self.run_duration = meter.create_histogram(
            "legato_run_duration",
            unit="s",
            description="Run duration, start to end",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.queue_wait = meter.create_histogram(
            "legato_step_queue_wait",
            unit="s",
            description="Time from a job's publication (a timer's: its firing) to a worker "
            "starting it",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "legato_step_duration",
            unit="s",
            description="Step attempt duration",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self.in_flight = meter.create_up_down_counter(
            "legato_steps_in_flight", description="Jobs being handled now"
        )
        meter.create_observable_gauge(
            "legato_consumer_lag",
            callbacks=[_observe_lag],
            description="Messages behind the high watermark, by topic and partition",
        )


_default = _Instruments(metrics.get_meter("legato"))
_m = _default


def use(provider: MeterProvider | None) -> None:
    """Record on ``provider`` from now on; None goes back to the global provider."""
    global _m
    _m = _default if provider is None else _Instruments(provider.get_meter("legato"))


def watch_lag(source: LagSource) -> None:
    """Report ``source.lag()`` as ``legato_consumer_lag`` while ``source`` lives."""
    _lag_sources.add(source)


def run_started(blueprint: str) -> None:
    _m.runs_started.add(1, {"blueprint": blueprint})


def run_ended(blueprint: str, status: str, seconds: float) -> None:
    attrs = {"blueprint": blueprint, "status": status}
    _m.runs_ended.add(1, attrs)
    _m.run_duration.record(max(seconds, 0.0), attrs)


def step_queue_wait(blueprint: str, node: str, seconds: float) -> None:
    _m.queue_wait.record(max(seconds, 0.0), {"blueprint": blueprint, "node": node})


def step_started(blueprint: str, node: str) -> None:
    _m.started.add(1, {"blueprint": blueprint, "node": node})


def step_completed(blueprint: str, node: str, seconds: float) -> None:
    _m.completed.add(1, {"blueprint": blueprint, "node": node})
    step_duration(blueprint, node, seconds, "completed")


def step_failed(blueprint: str, node: str, *, retried: bool) -> None:
    """A failed attempt (``retried``: it runs again later)."""
    (_m.retried if retried else _m.failed).add(1, {"blueprint": blueprint, "node": node})


def step_duration(blueprint: str, node: str, seconds: float, outcome: str) -> None:
    _m.duration.record(seconds, {"blueprint": blueprint, "node": node, "outcome": outcome})


def step_skipped(blueprint: str, node: str) -> None:
    _m.skipped.add(1, {"blueprint": blueprint, "node": node})


def join_fired(blueprint: str, node: str) -> None:
    _m.joins.add(1, {"blueprint": blueprint, "node": node})


def in_flight(delta: int) -> None:
    _m.in_flight.add(delta)


def dead_lettered(topic: str) -> None:
    _m.dead.add(1, {"topic": topic})


def timers_fired(count: int) -> None:
    if count:
        _m.timers.add(count)


def reconciler_pass(stats: Mapping[str, int]) -> None:
    """One reconciler pass's ``PassStats.to_dict()``."""
    for name, counter in _m.reconciler.items():
        counter.add(stats.get(name, 0))
