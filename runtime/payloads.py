"""Values sent to runs from outside (signal data, event data): bounded like outputs."""

from __future__ import annotations

from typing import Any

import msgspec

from legato.runtime.errors import PayloadTooLargeError

DEFAULT_MAX_VALUE_BYTES = 1 << 20
_encode = msgspec.msgpack.Encoder().encode


def check_payload(value: Any, what: str, limit: int = DEFAULT_MAX_VALUE_BYTES) -> None:
    """Refuse (``PayloadTooLargeError``) a value that cannot be stored or is over
    ``limit`` bytes encoded; nothing is written then."""
    try:
        size = len(_encode(value))
    except (TypeError, OverflowError) as exc:
        raise PayloadTooLargeError(f"{what} is not serialisable: {exc}") from exc
    if size > limit:
        raise PayloadTooLargeError(f"{what} is {size} bytes, over the limit of {limit} bytes")
