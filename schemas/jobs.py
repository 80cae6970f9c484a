"""The job envelope: one Kafka message asks a worker to run one step."""

from __future__ import annotations

import msgspec


class Job(msgspec.Struct, frozen=True, omit_defaults=True):
    """Run step ``step_id`` (node ``node``, loop ``iteration``) of run ``run_id``.

    ``trigger`` is the predecessor step whose arrival fired this step; an
    ``any`` join receives that predecessor's output only, a ``count`` join the
    outputs of the ``joined`` steps (the first ``N`` that delivered). ``deadline`` is set on
    the job a durable timer publishes for a sleep or a signal wait. A ``watchdog``
    job is published by the durable timer of a step with a ``timeout``, once the
    timeout and a lease's time have passed: if the step is unresolved by then, its
    run is resumed from the history (the step's worker died). ``trace`` carries the
    W3C ``traceparent`` of the span that made a job which is published later (by a
    timer, a signal, the reconciler), so the whole run stays one trace.
    """

    run_id: str
    step_id: str
    node: str
    blueprint: str
    version: str
    iteration: int = 0
    attempt: int = 1
    trigger: str | None = None
    deadline: float | None = None  # a timer's due time (sleep / signal-wait timeout)
    redeliveries: int = 0  # times re-enqueued because no worker here could compile it
    watchdog: bool = False  # a timed step's durable timeout check (not a run of the step)
    trace: str | None = None  # W3C traceparent, for jobs published later (timers, waits)
    joined: tuple[str, ...] = ()  # a count join's input steps, as its join decided them
    index: int | None = None  # a foreach item: its position (the step is ``node[index]``)
    items: int = 0  # a foreach item: how many items its node has
