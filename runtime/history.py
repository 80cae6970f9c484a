"""A run's state as a fold of its history: replaying the events reproduces it.

``fold(await store.history(run_id), registry)`` gives the same step resolutions
as the store's step records, the same status and error as the run's header, and
the same final context as ``RunResult.context``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from legato.runtime.context import final_context
from legato.runtime.registry import Registry
from legato.schemas import (
    ContextWrite,
    Event,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunPaused,
    RunResumed,
    RunRetried,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
    StepWaiting,
)

_RESOLVED = ("done", "skipped")


@dataclass(slots=True)
class StepState:
    """Where one step stands.

    Attributes:
        status: ``done``, ``skipped``, ``failed``, ``retrying`` or ``waiting``.
        node: the node the step runs.
        output: the step's output (``done`` only).
        action: the action the step returned.
        skipped: targets of the outgoing edges it did not take (as recorded).
        looped: a loop's last node went back to the loop's start.
        taken: targets of the edges it took (the loop's first node when it looped);
            filled only when ``fold`` is given the registry.
        attempts: the number of the last attempt made.
        last_error: the error of the last failed attempt (or failed fallback).
        fallback: the fallback node that produced the output, or that failed.
        retry_at: when the next attempt is due (``retrying`` only).
        until: when a ``waiting`` step's wait ends (None: when its signal comes).
        signal: the signal a ``waiting`` step waits for.
        items: a foreach step's number of items (once they are kept).
    """

    status: str
    node: str
    output: Any = None
    action: str | None = None
    skipped: tuple[str, ...] = ()
    looped: bool = False
    taken: tuple[str, ...] = ()
    attempts: int = 0
    last_error: str | None = None
    fallback: str | None = None
    retry_at: float | None = None
    until: float | None = None
    signal: str | None = None
    items: int | None = None

    @property
    def resolved(self) -> bool:
        return self.status in _RESOLVED

    def record(self) -> StepRecord:
        """The step record of a resolved step (as the store keeps it)."""
        assert self.status in _RESOLVED, self.status
        status: Literal["done", "skipped"] = "done" if self.status == "done" else "skipped"
        return StepRecord(
            status,
            self.node,
            self.output,
            self.action,
            self.skipped,
            self.looped,
            self.attempts,
            self.fallback,
        )


@dataclass
class RunState:
    """A run as its history tells it: header fields, steps, signals, final context."""

    run_id: str = ""
    blueprint_id: str = ""
    version: str = ""
    input: Any = None
    trace: str | None = None
    status: str = "running"
    error: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    # Signals no step has consumed yet: name -> {signal id: data}, oldest first.
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, Any]:
        """Step id -> output of every done step (as ``RunResult.outputs``)."""
        return {s: st.output for s, st in self.steps.items() if st.status == "done"}


def fold(
    events: Iterable[Event], registry: Registry | None = None, *, edges: bool = True
) -> RunState:
    """Replay ``events`` (in append order) into a ``RunState``.

    Args:
        events: a run's history, as ``RunStore.history`` returns it.
        registry: the run's compiled blueprint. With it, the final context is
            resolved by the same rule as a live run (it needs the causal order of
            steps) and each done step's ``taken`` edges are filled in.
        edges: False leaves ``taken`` empty (a run's result does not need it).
    """
    edge_reg = registry if edges else None
    state = RunState()
    writes: dict[str, list[ContextWrite]] = {}
    for event in events:
        match event:
            case StepCompleted():
                prev = state.steps.get(event.step_id)
                if prev is not None and prev.status in _RESOLVED:
                    continue  # the first resolution wins, as in the store
                state.steps[event.step_id] = StepState(
                    "done",
                    event.node,
                    event.output,
                    event.action,
                    event.skipped,
                    event.looped,
                    _taken(edge_reg, event) if edge_reg is not None else (),
                    event.attempt,
                    prev.last_error if prev else None,
                    event.fallback,
                )
                if event.signal is not None and event.signal_id is not None:
                    _consumed(state, event.signal, event.signal_id)
                if event.context:
                    for key, value in event.context.items():
                        writes.setdefault(key, []).append(ContextWrite(key, event.step_id, value))
            case RunStarted():
                state.run_id, state.blueprint_id = event.run_id, event.blueprint_id
                state.version, state.input = event.version, event.input
                state.trace = event.trace
            case StepSkipped():
                if event.step_id not in state.steps or state.steps[event.step_id].status not in (
                    _RESOLVED
                ):
                    state.steps[event.step_id] = StepState("skipped", event.node)
            case StepFailed():
                _failed(state, event)
            case StepWaiting():
                prev = state.steps.get(event.step_id)
                if prev is None:
                    state.steps[event.step_id] = StepState(
                        "waiting", event.node, until=event.until, signal=event.signal
                    )
                elif not prev.resolved:
                    prev.status, prev.until, prev.signal = "waiting", event.until, event.signal
                if event.items is not None:
                    state.steps[event.step_id].items = event.items
            case SignalReceived():
                state.signals.setdefault(event.name, {})[event.id] = event.data
            case RunPaused():
                state.status = "paused"
            case RunResumed():
                state.status = "running"
            case RunRetried():
                state.status, state.error = "running", None
                for sid in event.reset:
                    state.steps.pop(sid, None)
                reset = set(event.reset)
                for key in list(writes):
                    writes[key] = [w for w in writes[key] if w.step_id not in reset]
                    if not writes[key]:
                        del writes[key]
            case RunCompleted():
                state.status = "completed"
            case RunFailed():
                state.status, state.error = "failed", event.error
            case RunCancelled():
                state.status, state.error = "cancelled", event.reason or None
    if registry is not None and writes:
        state.context = final_context(registry, writes)
    return state


def _consumed(state: RunState, name: str, signal_id: str) -> None:
    pending = state.signals.get(name)
    if pending is not None:
        pending.pop(signal_id, None)
        if not pending:
            del state.signals[name]


def _failed(state: RunState, event: StepFailed) -> None:
    prev = state.steps.get(event.step_id)
    if prev is not None and prev.status in _RESOLVED:
        return
    status = "retrying" if event.retry_at is not None else "failed"
    if prev is not None and event.node != prev.node:
        # The step's fallback failed: the step's own attempts still count.
        prev.status, prev.last_error, prev.fallback = status, event.error, event.node
        return
    state.steps[event.step_id] = StepState(
        status, event.node, attempts=event.attempt, last_error=event.error, retry_at=event.retry_at
    )


def _taken(registry: Registry | None, event: StepCompleted) -> tuple[str, ...]:
    if registry is None:
        return ()
    node = registry.nodes.get(event.node)
    if node is None:
        return ()
    if event.looped and node.loop is not None:
        return (node.loop.head,)
    return tuple(e.target for e in node.out_edges if e.target not in event.skipped)
