"""Legato's error hierarchy: one root, grouped by area.

Every error says whether retrying the same operation may succeed
(``retryable``). Adapters translate driver exceptions into these at their
boundary, so the core never sees a driver type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class LegatoError(Exception):
    """Root of every error Legato raises on purpose."""

    retryable: bool = False


# --- blueprints -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a blueprint, located by its path in the document."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class BlueprintError(LegatoError):
    """A blueprint is invalid. Lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" {source}" if source else ""
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid blueprint{where}: {count} {noun}:\n{lines}")


class ExpressionError(LegatoError):
    """A CEL expression failed at run time (bad data, missing key, type error)."""


# --- running steps ----------------------------------------------------------------


class StepError(LegatoError):
    """Raised by node code to fail a step with control over retrying.

    Args:
        message: what went wrong.
        retryable: False stops retries at once (the fallback, if any, runs).
        next_retry_delay: overrides the backoff for the next attempt (seconds).
    """

    def __init__(
        self, message: str, *, retryable: bool = True, next_retry_delay: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.next_retry_delay = next_retry_delay


class NonRetryableError(StepError):
    """A step failure that retrying cannot fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class StepTimeoutError(StepError):
    """A step ran longer than its node's ``timeout``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class OutputTooLargeError(StepError):
    """A step's output or a context value exceeds the configured size limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class LoopLimitError(StepError):
    """A loop would exceed its ``max_iterations``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# --- runs and storage -------------------------------------------------------------


class RunInputError(LegatoError):
    """A run's input cannot be accepted (it cannot be stored); nothing was started."""


class InputTooLargeError(RunInputError):
    """A run's input exceeds ``Limits.input_bytes``; nothing was started."""


class RunNotFoundError(LegatoError):
    """No run with this id exists."""


class UnknownBlueprintError(LegatoError):
    """A job or command names a blueprint id/version this process does not have."""

    retryable = True


class BlueprintInactiveError(LegatoError):
    """A blueprint version was deactivated: new runs of it are refused."""


class FencingError(LegatoError):
    """A write carried a lease token that is no longer current; another worker owns the step."""


class SignalTakenError(LegatoError):
    """The signal a wait meant to consume was consumed by another step first; the
    wait looks for the next one."""

    retryable = True


class PayloadTooLargeError(LegatoError):
    """Data sent to a run (a signal's, an event's) cannot be stored or is over the
    value size limit; nothing was sent."""


class BadRequestError(LegatoError):
    """A request to run control cannot be served as given (an empty event name, a
    negative retain time); nothing was changed."""


class RunStateError(LegatoError):
    """The run is not in a state where this applies (pause a run that is not
    running, resume one that is not paused, ...). Nothing was changed."""


class LeaseLostError(LegatoError):
    """This worker lost a step's lease while running it (another worker may run it
    now, or the coordinator could not be reached): the job is handled again."""

    retryable = True


class StepCancelled(LegatoError):
    """A running step was stopped because its run ended; nothing is recorded."""


class BackendUnavailableError(LegatoError):
    """A server (Kafka, Cassandra, Redis) could not be reached; back off and retry."""

    retryable = True


class ConfigError(LegatoError):
    """Configuration that cannot be used: a bad URL, an unknown key, a wrong type."""


class MessageDecodeError(LegatoError):
    """A message could not be decoded. Keeps the raw bytes for the dead-letter topic."""

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
