"""CEL expressions, compiled once when a blueprint is compiled.

Blueprint text is never passed to ``eval``/``exec``: conditions, transforms
and input mappings are CEL, a side-effect-free language. Syntax errors,
unknown variables and unknown functions are compile errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from legato.runtime.errors import ExpressionError

# Functions of the CEL standard library as implemented by cel-interpreter.
_KNOWN_FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "string", "int", "uint",
        "double", "bytes", "bool", "duration", "timestamp", "max", "min", "type", "dyn",
        "has", "exists", "exists_one", "all", "map", "filter", "getFullYear", "getMonth",
        "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours",
        "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_COMPREHENSION_VAR = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,"
)
_CONTEXT_DOT = re.compile(r"\bcontext\s*\.\s*([A-Za-z_]\w*)")
_CONTEXT_INDEX = re.compile(r"""\bcontext\s*\[\s*(?:"([^"]*)"|'([^']*)')\s*\]""")
_CONTEXT_ANY = re.compile(r"\bcontext\b")
_OUTPUTS_DOT = re.compile(r"\boutputs\s*\.\s*([A-Za-z_][\w-]*)")
_OUTPUTS_INDEX = re.compile(r"""\boutputs\s*\[\s*(?:"([^"]*)"|'([^']*)')\s*\]""")
_OUTPUTS_ANY = re.compile(r"\boutputs\b")


class ExpressionCompileError(ValueError):
    """A CEL expression cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class Expr:
    """A compiled CEL expression and what it reads.

    Attributes:
        source: the expression text.
        context_keys: run context keys the expression reads (so a step loads only those).
        output_refs: node ids read through ``outputs.<id>`` (input mappings only).
    """

    source: str
    program: Any
    context_keys: tuple[str, ...]
    output_refs: tuple[str, ...]

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        try:
            return self.program.execute(dict(variables))
        except Exception as exc:  # the binding raises KeyError, TypeError, RuntimeError...
            raise ExpressionError(f"expression {self.source!r} failed: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key {exc.args[0]!r}"
    return f"{type(exc).__name__}: {exc}"


def _static_refs(
    source: str, name: str, dot: re.Pattern[str], index: re.Pattern[str], anywhere: re.Pattern[str]
) -> tuple[str, ...]:
    keys: list[str] = []
    for m in dot.finditer(source):
        keys.append(m.group(1))
    for m in index.finditer(source):
        keys.append(m.group(1) if m.group(1) is not None else m.group(2))
    total_uses = len(anywhere.findall(source))
    if total_uses > len(keys):
        raise ExpressionCompileError(
            f"'{name}' must be read with static keys ({name}.key or {name}['key'])"
        )
    return tuple(dict.fromkeys(keys))


def compile_expr(source: str, allowed: Iterable[str]) -> Expr:
    """Compile ``source``; raise ``ExpressionCompileError`` if it cannot run."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionCompileError("expression is empty")
    try:
        program = cel.compile(source)
    except ValueError as exc:
        raise ExpressionCompileError(str(exc).splitlines()[0]) from exc
    allowed_set = set(allowed)
    bound = set(_COMPREHENSION_VAR.findall(source))
    unknown = [v for v in program.variables() if v not in allowed_set and v not in bound]
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ExpressionCompileError(
            f"unknown variable(s) {names}; available: {', '.join(sorted(allowed_set))}"
        )
    bad_functions = [
        f
        for f in program.functions()
        if not f.startswith(("_", "@", "!", "-")) and f not in _KNOWN_FUNCTIONS
    ]
    if bad_functions:
        raise ExpressionCompileError(f"unknown function(s) {', '.join(sorted(bad_functions))}")
    context_keys: tuple[str, ...] = ()
    if "context" in program.variables():
        context_keys = _static_refs(source, "context", _CONTEXT_DOT, _CONTEXT_INDEX, _CONTEXT_ANY)
    output_refs: tuple[str, ...] = ()
    if "outputs" in program.variables():
        output_refs = _static_refs(source, "outputs", _OUTPUTS_DOT, _OUTPUTS_INDEX, _OUTPUTS_ANY)
    return Expr(source, program, context_keys, output_refs)
