"""Bounds on what Legato reads from users, in one place.

A blueprint is user input: a file of a few hundred bytes can otherwise ask for
gigabytes (a YAML alias bomb) or crash the reader (deep nesting). A run's input
is read again by every step, and a step's output and context writes are stored
and read by its successors. Each bound is checked before the costly step it
protects, and exceeding it is a clear error (a blueprint ``Problem``, an
``InputTooLargeError`` that starts nothing, an ``OutputTooLargeError`` that fails
the step without retries), never a traceback.

Every bound is a setting: the ``[limits]`` table of the config file, a
``LEGATO_LIMITS_*`` variable or a ``--limit-*`` option (``legato.config``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from legato.runtime.errors import InputTooLargeError, RunInputError

_encode = msgspec.msgpack.Encoder().encode


@dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds on user input. Defaults suit hand-written and generated
    blueprints and typical payloads alike; raise them only for unusually large ones.

    Attributes:
        document_bytes: Largest blueprint file read, in bytes; checked before parsing.
        aliases: Most values that repeated references may add once expanded: YAML
            aliases (`*name`), or one object placed several times in a dict given in
            Python. Ten aliases of a 100-value mapping add 1,000.
        depth: Deepest nesting of mappings and lists in a blueprint, the document
            itself being level 1. Kept well below Python's recursion limit, which the
            readers and encoders would otherwise hit.
        input_bytes: Largest run input, in bytes once encoded (MessagePack); a larger
            one is refused (`InputTooLargeError`) and nothing is started.
        output_bytes: Largest step output, and largest value a step writes to the run
            context, in bytes once encoded; a larger one fails the step
            (`OutputTooLargeError`), which is not retried.
    """

    document_bytes: int = 1 << 20
    aliases: int = 10_000
    depth: int = 100
    input_bytes: int = 1 << 20
    output_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be an integer of at least 1, not {value!r}")


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as stored (MessagePack); ``TypeError`` if it cannot be."""
    try:
        return len(_encode(value))
    except OverflowError as exc:
        raise TypeError(str(exc)) from exc


def check_input(value: Any, limits: Limits) -> None:
    """Refuse a run input that cannot be stored or exceeds ``limits.input_bytes``."""
    try:
        size = encoded_size(value)
    except TypeError as exc:
        raise RunInputError(f"the run input cannot be stored: {exc}") from None
    if size > limits.input_bytes:
        raise InputTooLargeError(
            f"the run input is {size} bytes, over the limit of {limits.input_bytes} bytes "
            "(Limits.input_bytes: --limit-input-bytes, LEGATO_LIMITS_INPUT_BYTES, "
            "[limits] input_bytes); nothing was started"
        )
