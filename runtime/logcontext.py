"""The job a log record belongs to: set by the executor around a job, read by log formatters.

A context variable, so every task and thread a step starts (a sync node runs in
a thread with a copy of the context) logs under the step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

from legato.schemas import Job

_job: ContextVar[Job | None] = ContextVar("legato_job", default=None)


@contextlib.contextmanager
def job_scope(job: Job) -> Iterator[None]:
    token = _job.set(job)
    try:
        yield
    finally:
        _job.reset(token)


def set_job(job: Job) -> Token[Job | None]:
    """Set the job of this context; ``reset_job`` with the token undoes it."""
    return _job.set(job)


def reset_job(token: Token[Job | None]) -> None:
    _job.reset(token)


def current_job() -> Job | None:
    """The job being handled in this context, if any."""
    return _job.get()
