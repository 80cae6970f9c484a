"""The join rule: one pure decision that every coordinator and the run's end share.

A join counts *distinct predecessors*, never arrivals, and is decided once:

- ``all``: once ``expected`` predecessors arrived, RUN if at least one was taken,
  else SKIP (dead-path elimination);
- ``any``: RUN at the first taken arrival; SKIP once all arrived skipped;
- ``count`` (``join: {count: N}``): RUN once ``N`` predecessors arrived taken, with
  those ``N`` (``JoinState.joined``, in arrival order); SKIP as soon as fewer than
  ``N`` can still be taken (more than ``expected - N`` arrived skipped).

The arrival that decided gets the decision again if it is repeated (so a
redelivered job re-drives its successor); every other arrival gets WAIT.
``MemoryCoordinator`` applies ``arrive`` to its dicts; ``adapters/redis/join.lua``
implements the same rule atomically and ``tests/contract`` holds it to this
function case by case; a node with one predecessor needs no shared state at all
(``alone``), and the run's end is a join of its end nodes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

JoinMode = Literal["all", "any", "count"]


class JoinDecision(enum.Enum):
    """What one arrival at a step decided."""

    WAIT = "wait"  # not decided yet, or decided by an arrival from another predecessor
    RUN = "run"  # this predecessor's arrival fired the step: enqueue it
    SKIP = "skip"  # every arrival was a skip: the step is skipped


class CountDecision(NamedTuple):
    """What one arrival at a ``count`` join decided, and (RUN) the ``N`` predecessors
    whose outputs make the step's input, in arrival order."""

    decision: JoinDecision
    joined: tuple[str, ...] = ()


@dataclass(slots=True)
class JoinState:
    """The arrivals at one join so far (what a coordinator keeps per join)."""

    arrived: dict[str, bool] = field(default_factory=dict)  # predecessor -> taken
    taken: int = 0
    decided_by: str | None = None
    decision: JoinDecision = JoinDecision.WAIT
    joined: list[str] = field(default_factory=list)  # count: the taken ones, until decided


def arrive(
    state: JoinState,
    predecessor: str,
    taken: bool,
    expected: int,
    mode: JoinMode,
    count: int = 0,
) -> JoinDecision:
    """Record one arrival in ``state`` (updated in place) and return what it decided.
    ``count`` is the ``N`` of a ``count`` join (ignored by the other modes)."""
    if predecessor not in state.arrived:
        state.arrived[predecessor] = taken
        if taken:
            state.taken += 1
            if mode == "count" and state.decided_by is None:
                state.joined.append(predecessor)
    elif state.decided_by == predecessor:
        return state.decision
    if state.decided_by is not None:
        return JoinDecision.WAIT
    decision = JoinDecision.WAIT
    if mode == "count":
        if state.taken >= count:
            decision = JoinDecision.RUN
        elif len(state.arrived) - state.taken > expected - count:
            decision = JoinDecision.SKIP
    elif mode == "any" and taken:
        decision = JoinDecision.RUN
    elif len(state.arrived) >= expected:
        decision = JoinDecision.RUN if state.taken and mode == "all" else JoinDecision.SKIP
    if decision is not JoinDecision.WAIT:
        state.decided_by, state.decision = predecessor, decision
    return decision


def arrive_count(
    state: JoinState, predecessor: str, taken: bool, expected: int, count: int
) -> CountDecision:
    """``arrive`` at a ``count`` join, with the joined predecessors when it RUNs."""
    decision = arrive(state, predecessor, taken, expected, "count", count)
    if decision is JoinDecision.RUN:
        return CountDecision(decision, tuple(state.joined))
    return CountDecision(decision)


def alone(taken: bool) -> JoinDecision:
    """The decision at a step with a single predecessor: ``arrive`` on a fresh state
    with ``expected == 1`` (whatever the mode), without keeping any state."""
    return JoinDecision.RUN if taken else JoinDecision.SKIP
