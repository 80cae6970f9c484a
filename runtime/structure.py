"""A blueprint document's structure, read tolerantly.

Each field is checked on its own, so one wrong key or type does not hide the
others; the blueprint is then built from what did parse, so that the compiler
can check the graph, the expressions and the implementations too. A required
field that did not parse gets an empty stand-in, and its path is reported: the
compiler leaves alone what is already reported there.
"""

from __future__ import annotations

import difflib
import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin

import msgspec

from legato.runtime.documents import check_shape
from legato.runtime.errors import Problem
from legato.runtime.limits import DEFAULT_LIMITS, Limits
from legato.schemas import Blueprint
from legato.schemas.blueprint import SHORTHANDS


@dataclass
class Reading:
    """What a document holds: the blueprint (``None`` if unreadable), the problems
    found, and the paths that had them (see ``reported``)."""

    blueprint: Blueprint | None
    problems: list[Problem] = field(default_factory=list)

    def reported(self, path: str) -> bool:
        """Whether ``path``, or a value containing it, already has a problem."""
        return any(_within(path, p.path) for p in self.problems)


def _within(path: str, outer: str) -> bool:
    if not outer or path == outer:
        return True
    return path.startswith(outer) and path[len(outer)] in ".["


def read_blueprint(data: Any, limits: Limits = DEFAULT_LIMITS) -> Reading:
    """Check ``data`` (decoded YAML/JSON, or a dict) against the blueprint schema."""
    if not isinstance(data, Mapping):
        return Reading(None, [Problem("", "a blueprint must be a mapping")])
    shape = check_shape(data, limits)
    if shape:  # unsafe to walk any further
        return Reading(None, shape)
    problems: list[Problem] = []
    bp = _struct(data, Blueprint, "", problems)
    return Reading(bp, problems)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: Any) -> str:
    """A value's type in msgspec's words, as its messages use."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _struct(obj: Any, cls: type, path: str, problems: list[Problem]) -> Any:
    """``cls`` built from ``obj``, or ``None`` if ``obj`` is not a mapping."""
    if not isinstance(obj, Mapping):
        problems.append(Problem(path, f"Expected `object`, got `{_kind(obj)}`"))
        return None
    fields = _fields_of(cls)
    values: dict[str, Any] = {}
    for key, raw in obj.items():
        f = fields.get(key) if isinstance(key, str) else None
        if f is None:
            problems.append(Problem(_join(path, key), _unknown(str(key), list(fields))))
            continue
        ok, value = _field(cls, f.name, f.type, raw, _join(path, key), problems)
        if ok:
            values[f.name] = value
    for f in fields.values():
        if f.required and f.name not in obj:
            problems.append(Problem(_join(path, f.name), "required key missing"))
        if f.required and f.name not in values:  # required fields are strings or lists
            values[f.name] = () if get_origin(f.type) is tuple else ""
    return cls(**values)


@functools.cache
def _fields_of(cls: type) -> dict[str, msgspec.structs.FieldInfo]:
    # msgspec.structs.fields evaluates the annotations on every call
    return {f.name: f for f in msgspec.structs.fields(cls)}


def _unknown(key: str, names: list[str]) -> str:
    hint = difflib.get_close_matches(key, names, n=1)
    if hint:
        return f"unknown key (did you mean {hint[0]!r}?)"
    return f"unknown key; known keys: {', '.join(names)}"


def _field(
    cls: type, name: str, tp: Any, raw: Any, path: str, problems: list[Problem]
) -> tuple[bool, Any]:
    """``(True, value)`` if ``raw`` is a valid value of the field, else ``(False, None)``
    with the problems recorded (a mapping keeps its valid entries)."""
    short = SHORTHANDS.get((cls, name))
    if short is not None and short.accepts(raw):
        raw = short.expand(raw)
    options = _options(tp)
    structs = [o for o in options if isinstance(o, type) and issubclass(o, msgspec.Struct)]
    if structs and isinstance(raw, Mapping):
        return True, _struct(raw, structs[0], path, problems)
    scalars = [o for o in options if o not in structs and o is not type(None)]
    if structs and scalars and not isinstance(raw, Mapping):
        structs, tp = [], scalars[0]  # `join: any` or `join: {count: 2}`: the scalar form
    if structs and not (raw is None and type(None) in options):
        expected = " | ".join(
            ["object"]
            + (["null"] if type(None) in options else [])
            + ([short.name] if short is not None else [])
        )
        problems.append(Problem(path, f"Expected `{expected}`, got `{_kind(raw)}`"))
        return False, None
    items = [o for o in options if get_origin(o) is tuple]
    if items:
        if not isinstance(raw, list | tuple):
            problems.append(Problem(path, f"Expected `array`, got `{_kind(raw)}`"))
            return False, None
        (item_type, _) = get_args(items[0])
        built = [_struct(item, item_type, f"{path}[{i}]", problems) for i, item in enumerate(raw)]
        return True, tuple(b for b in built if b is not None)
    mappings = [o for o in options if get_origin(o) is dict]
    if mappings and isinstance(raw, Mapping):
        return True, _mapping(raw, get_args(mappings[0])[1], path, problems)
    if tp is int and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # JSON does not tell 3 from 3.0
    try:
        return True, msgspec.convert(raw, tp)
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at `$", 1)[0]
        if short is not None and message.startswith("Expected `"):
            expected, _, rest = message[len("Expected `") :].partition("`")
            message = f"Expected `{expected} | {short.name}`{rest}"
        problems.append(Problem(path, message))
        return False, None


def _options(tp: Any) -> tuple[Any, ...]:
    if get_origin(tp) in (Union, types.UnionType):
        return get_args(tp)
    return (tp,)


def _mapping(raw: Mapping[Any, Any], value_type: Any, path: str, problems: list[Problem]) -> Any:
    """A ``dict[str, value_type]``, checked entry by entry."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            problems.append(Problem(path, f"key {key!r}: Expected `str`, got `{_kind(key)}`"))
            continue
        if value_type is Any:
            out[key] = value
            continue
        try:
            out[key] = msgspec.convert(value, value_type)
        except msgspec.ValidationError as exc:
            problems.append(Problem(_join(path, key), str(exc).split(" - at `$", 1)[0]))
    return out
