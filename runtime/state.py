"""A run's state as a fold of its history: replaying the events reproduces it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from legato.runtime.context import final_context
from legato.runtime.registry import Registry
from legato.schemas import (
    ContextWrite,
    Event,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepSkipped,
    StepWaiting,
)


@dataclass
class StepState:
    """Where one step stands: ``done``, ``skipped``, ``failed``, ``retrying`` or ``waiting``."""

    status: str
    node: str
    output: Any = None
    action: str | None = None
    skipped: tuple[str, ...] = ()
    looped: bool = False
    attempts: int = 0
    last_error: str | None = None
    fallback: str | None = None


@dataclass
class RunState:
    run_id: str = ""
    blueprint_id: str = ""
    version: str = ""
    input: Any = None
    status: str = "running"
    error: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        return {s: st.output for s, st in self.steps.items() if st.status == "done"}


def fold(events: Iterable[Event], registry: Registry | None = None) -> RunState:
    """Replay ``events`` (in append order). With ``registry``, the final context is
    resolved by the same rule as a live run."""
    state = RunState()
    writes: dict[str, list[ContextWrite]] = {}
    for event in events:
        match event:
            case RunStarted():
                state.run_id, state.blueprint_id = event.run_id, event.blueprint_id
                state.version, state.input = event.version, event.input
            case StepCompleted():
                prev = state.steps.get(event.step_id)
                if prev is not None and prev.status in ("done", "skipped"):
                    continue  # the first resolution wins, as in the store
                state.steps[event.step_id] = StepState(
                    "done",
                    event.node,
                    event.output,
                    event.action,
                    tuple(event.skipped),
                    event.looped,
                    event.attempt,
                    prev.last_error if prev else None,
                    event.fallback,
                )
                for key, value in event.context.items():
                    writes.setdefault(key, []).append(ContextWrite(key, event.step_id, value))
            case StepSkipped():
                if event.step_id not in state.steps:
                    state.steps[event.step_id] = StepState("skipped", event.node)
            case StepFailed():
                prev = state.steps.get(event.step_id)
                if prev is not None and prev.status in ("done", "skipped"):
                    continue
                status = "retrying" if event.retry_at is not None else "failed"
                node = prev.node if prev is not None else event.node
                state.steps[event.step_id] = StepState(
                    status, node, attempts=event.attempt, last_error=event.error
                )
            case StepWaiting():
                if event.step_id not in state.steps:
                    state.steps[event.step_id] = StepState("waiting", event.node)
            case SignalReceived():
                state.signals.setdefault(event.name, event.data)
            case RunCompleted():
                state.status = "completed"
            case RunFailed():
                state.status, state.error = "failed", event.error
            case RunCancelled():
                state.status, state.error = "cancelled", event.reason or None
    if registry is not None and writes:
        state.context = final_context(registry, writes)
    return state
