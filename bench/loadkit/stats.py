"""The report of a load, read from the runs' histories."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import legato
from legato.schemas import RunCompleted, RunFailed, RunStarted, StepCompleted


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


@dataclass
class Histories:
    """What the histories of the measured runs say."""

    steps: int = 0
    runs: int = 0
    completed: int = 0
    first_start: float = math.inf
    last_end: float = 0.0
    hops: list[tuple[float, float]] = field(default_factory=list)  # (start time, hop seconds)
    run_latencies: list[float] = field(default_factory=list)
    step_times: list[float] = field(default_factory=list)  # completion times
    run_ends: list[float] = field(default_factory=list)

    def add(self, reg: legato.Registry, events: list[Any], skip_hops: set[str]) -> None:
        self.runs += 1
        started = ended = None
        done_at: dict[str, float] = {}
        steps = []
        for e in events:
            if isinstance(e, StepCompleted):
                steps.append(e)
                done_at[e.step_id] = e.at
            elif isinstance(e, RunStarted):
                started = e.at
            elif isinstance(e, RunCompleted | RunFailed):
                ended = e.at
                self.completed += isinstance(e, RunCompleted)
        self.steps += len(steps)
        self.step_times += [e.at for e in steps]
        if started is not None:
            self.first_start = min(self.first_start, started)
        if ended is not None:
            self.last_end = max(self.last_end, ended)
            self.run_ends.append(ended)
            if started is not None:
                self.run_latencies.append(ended - started)
        for e in steps:
            preds = reg.nodes[e.node].preds
            if not preds or e.node in skip_hops:
                continue
            arrived = [done_at[p] for p in preds if p in done_at]
            if arrived:
                self.hops.append((e.started_at, e.started_at - max(arrived)))

    @property
    def window(self) -> float:
        return max(1e-9, self.last_end - self.first_start) if self.run_ends else 0.0


def report(h: Histories, errors: int, **extra: Any) -> dict[str, Any]:
    hops = [x for _, x in h.hops]
    window = h.window

    def ms(v: float) -> float:
        return round(v * 1000, 2)

    out: dict[str, Any] = {
        **extra,
        "runs": h.runs,
        "completed": h.completed,
        "steps": h.steps,
        "seconds": round(window, 3),
        "steps_per_s": round(h.steps / window, 1) if window else 0.0,
        "runs_per_s": round(h.completed / window, 2) if window else 0.0,
        "hop_p50_ms": ms(percentile(hops, 0.5)),
        "hop_p90_ms": ms(percentile(hops, 0.9)),
        "hop_p99_ms": ms(percentile(hops, 0.99)),
        "hop_max_ms": ms(max(hops, default=0.0)),
        "hops": len(hops),
        "run_p50_ms": ms(percentile(h.run_latencies, 0.5)),
        "run_p99_ms": ms(percentile(h.run_latencies, 0.99)),
        "errors": errors + (h.runs - h.completed),
    }
    return out


def series(h: Histories, bucket: float = 1.0) -> dict[str, list[float]]:
    """Per-bucket steps/s, runs/s, and hop p50/p99 (by the successor's start), from the
    first run's start."""
    t0 = h.first_start
    if not math.isfinite(t0):
        return {"t": [], "steps": [], "runs": [], "hop_p50": [], "hop_p99": []}
    n = int(max(h.step_times + h.run_ends + [t0]) - t0) // int(bucket) + 1
    steps, runs = [0.0] * n, [0.0] * n
    for t in h.step_times:
        steps[min(n - 1, int((t - t0) / bucket))] += 1 / bucket
    for t in h.run_ends:
        runs[min(n - 1, int((t - t0) / bucket))] += 1 / bucket
    by: dict[int, list[float]] = defaultdict(list)
    for t, x in h.hops:
        by[min(n - 1, max(0, int((t - t0) / bucket)))].append(x)
    return {
        "t": [i * bucket for i in range(n)],
        "steps": steps,
        "runs": runs,
        "hop_p50": [percentile(by[i], 0.5) * 1000 for i in range(n)],
        "hop_p99": [percentile(by[i], 0.99) * 1000 for i in range(n)],
    }
