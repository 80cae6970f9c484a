"""Typed node input: ``def node(ctx: StepContext[Order])`` gets an ``Order``.

The type is read from the annotation of the node function's first parameter
when the blueprint is compiled; the input is converted with
``msgspec.convert`` before each attempt. A value that does not match is an
``InputValidationError``: the step fails at once, naming the field, and is not
retried (the same input would fail the same way), so a node's fallback, if it
has one, runs. Untyped nodes (no annotation, ``StepContext``,
``StepContext[Any]``) get the input as it is.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from legato.runtime.errors import StepError
from legato.runtime.nodectx import StepContext


class InputValidationError(StepError):
    """A typed node's input does not match its ``StepContext[In]`` type."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def input_type(target: Callable[..., Any]) -> Any:
    """The ``In`` of ``target``'s first parameter annotated ``StepContext[In]``, or
    None when the input is untyped.

    Raises:
        LookupError: the annotation names ``StepContext[...]`` but cannot be
            resolved, or ``In`` is not a type msgspec can convert to.
    """
    if inspect.isclass(target):
        return None  # prep/exec/post classes take their input untyped
    plain = inspect.isfunction(target) or inspect.ismethod(target)
    fn = target if plain else type(target).__call__  # an object with __call__(ctx)
    try:
        params = [
            p
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return None
    if not params:
        return None
    name = params[0].name
    try:
        hint = typing.get_type_hints(fn).get(name)
    except Exception as exc:
        raw = str(params[0].annotation)
        if "StepContext[" in raw:
            raise LookupError(
                f"cannot resolve the annotation {raw!r} of {fn.__qualname__}'s {name!r}: {exc}"
            ) from None
        return None
    if typing.get_origin(hint) is not StepContext:
        return None
    (wanted,) = typing.get_args(hint)
    if wanted is Any or wanted is object:
        return None
    try:
        msgspec.inspect.type_info(wanted)
    except (TypeError, ValueError) as exc:
        raise LookupError(
            f"{fn.__qualname__}: StepContext[{_name(wanted)}] is not a type msgspec "
            f"can convert the input to: {exc}"
        ) from None
    return wanted


def convert_input(value: Any, wanted: Any, step_id: str) -> Any:
    """``value`` as ``wanted``; ``InputValidationError`` saying where it differs."""
    try:
        return msgspec.convert(value, wanted)
    except msgspec.ValidationError as exc:
        raise InputValidationError(
            f"input of step {step_id} is not a valid {_name(wanted)}: {exc}"
        ) from None


def _name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)
