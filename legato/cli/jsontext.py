"""JSON text of any value a node may return: always valid JSON, never a crash.

Values JSON has no form for are encoded as msgspec (the wire format) does:

- ``NaN``, ``Infinity`` and ``-Infinity`` as ``null``;
- ``bytes`` as a base64 string; sets as arrays (sorted when their items compare),
  tuples as arrays; dates and times as RFC 3339 strings (UTC as ``Z``); UUIDs, decimals and
  paths as strings; enums as their value; dataclasses and Structs as objects;
- object keys that are not strings: numbers, ``true``/``false`` and ``null`` as
  their JSON text (as Python's ``json`` does), any other key as the JSON text of
  its encoding (the key ``(1, 2)`` becomes ``"[1, 2]"``);
- anything else as its ``repr()`` string.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import msgspec

from legato.runtime.errors import LegatoError


def plain(value: Any) -> Any:
    """``value`` as JSON-ready builtins, by the rules of this module's docstring."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, msgspec.Struct):
        return plain(msgspec.to_builtins(value))
    if isinstance(value, Mapping):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        items = list(value)
        try:
            items.sort()
        except TypeError:
            pass
        return [plain(v) for v in items]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime | dt.date | dt.time | uuid.UUID | Decimal):
        return msgspec.to_builtins(value)  # msgspec's text: what a distributed run stores
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return repr(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(plain(key))
    encoded = plain(key)
    return encoded if isinstance(encoded, str) else json.dumps(encoded, ensure_ascii=False)


def dumps(value: Any, indent: int | None = None) -> str:
    """``value`` as valid JSON text (never ``NaN``; see the module's docstring).

    Raises:
        LegatoError: ``value`` nests deeper than Python's recursion limit.
    """
    try:
        return json.dumps(plain(value), ensure_ascii=False, allow_nan=False, indent=indent)
    except RecursionError:
        raise LegatoError("the result nests too deeply to print as JSON") from None
