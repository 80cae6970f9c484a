"""Retrying a failed or cancelled run from where it failed (``legato retry``).

The run keeps its id. Its failed and unfinished steps (or, with ``from_step``,
that node and every node downstream of it, loops included, in every iteration)
are *reset*: their records, failed attempts and context writes are forgotten in
one conditional write with a ``RunRetried`` event that names them, so
``fold(history)`` forgets them too. Every other step keeps its output. The run is
then brought forward from its history exactly as the reconciler resumes a
stalled run (``Resumer``): the reset steps run again, with fresh attempts.

A signal a reset wait had consumed stays consumed: the wait takes the next one.
"""

from __future__ import annotations

from legato.reconciler.resume import Resumer
from legato.runtime.ending import RunEnding
from legato.runtime.errors import LegatoError, RunNotFoundError, RunStateError
from legato.runtime.graph import reach
from legato.runtime.history import fold
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.runtime.ports import Backend
from legato.runtime.registries import Registries
from legato.runtime.steps import StepId
from legato.schemas import RunRetried, StepCompleted

RETRYABLE = ("failed", "cancelled")


class UnknownStepError(LegatoError):
    """``retry --from`` names a step that is not a node of the run's blueprint."""


async def retry_run(
    backend: Backend,
    registries: Registries,
    ending: RunEnding,
    run_id: str,
    from_step: str | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> RunRetried:
    """Re-open a failed or cancelled run; returns the recorded ``RunRetried``.
    ``RunStateError`` for a run in another state, ``UnknownStepError`` for a
    ``from_step`` that is not in the blueprint; nothing changes then."""
    store = backend.store
    header = await store.get_run(run_id)
    if header is None:
        raise RunNotFoundError(f"run {run_id!r} does not exist")
    if header.status not in RETRYABLE:
        raise RunStateError(
            f"run {run_id!r} is {header.status}: only a failed or cancelled run can be retried"
        )
    reg = await registries.structure(header.blueprint_id, header.version)
    history = await store.history(run_id)
    state = fold(history, reg)
    again = {sid for sid, st in state.steps.items() if not st.resolved}
    if from_step is not None:
        node = StepId.parse(from_step).node
        if node not in reg.nodes:
            known = ", ".join(sorted(reg.nodes))
            raise UnknownStepError(
                f"--from {from_step!r}: no such node in {reg.id} v{reg.version} ({known})"
            )
        adjacency = {n: [e.target for e in c.out_edges] for n, c in reg.nodes.items()}
        downstream = reach(node, adjacency)
        again |= {sid for sid, st in state.steps.items() if st.node in downstream}
    context = sorted(
        {
            (key, e.step_id)
            for e in history
            if isinstance(e, StepCompleted) and e.step_id in again
            for key in e.context
        }
    )
    now = backend.clock.now()
    event = RunRetried(
        at=now, previous=header.status, from_step=from_step, reset=tuple(sorted(again))
    )
    if not await store.reopen_run(run_id, header.status, event, context):
        raise RunStateError(f"run {run_id!r} changed while it was being retried")
    reopened = await store.get_run(run_id)
    assert reopened is not None
    # Timers and leases of the ended run are gone: nothing is due later, all runs now.
    await Resumer(backend, ending, retry_grace=0.0, limits=limits).resume(reopened, reg, now=now)
    return event
