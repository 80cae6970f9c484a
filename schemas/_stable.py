"""JSON Schemas that do not depend on the msgspec version generating them.

The committed schema files are compared with freshly generated ones in the
tests; msgspec releases differ in how they dedent docstrings and in where
``null`` goes in an ``anyOf``. Both are fixed here.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from typing import Any

_NULL = {"type": "null"}


def stable_schema(schema: dict[str, Any], classes: Iterable[type]) -> dict[str, Any]:
    """``schema`` as plain JSON values (msgspec gives tuple defaults as tuples),
    each of ``classes``' description set from its docstring (cleaned as
    ``inspect.cleandoc`` does), and ``null`` last in every ``anyOf``."""
    schema = json.loads(json.dumps(schema))
    defs = schema.get("$defs", {})
    for cls in classes:
        entry = defs.get(cls.__name__)
        if entry is None:
            continue
        if cls.__doc__:
            entry["description"] = inspect.cleandoc(cls.__doc__)
        else:
            entry.pop("description", None)
    _null_last(schema)
    return schema


def _null_last(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            options = item.get("anyOf")
            if isinstance(options, list) and _NULL in options:
                item["anyOf"] = [o for o in options if o != _NULL] + [_NULL]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
