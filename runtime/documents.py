"""Blueprint files to plain data, within ``Limits``.

The readers refuse what would crash them or exhaust memory (a huge file, deep
nesting, aliases that expand without bound) and report duplicate keys, which
YAML and JSON readers otherwise resolve silently by keeping the last one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from legato.runtime.errors import BlueprintError, Problem
from legato.runtime.limits import DEFAULT_LIMITS, Limits

_MERGE_TAG = "tag:yaml.org,2002:merge"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
Component = str | int | None


def path_text(components: Sequence[Component]) -> str:
    """``["nodes", 0, "uses"]`` -> ``"nodes[0].uses"``; ``None`` parts are skipped."""
    out = ""
    for c in components:
        if isinstance(c, int):
            out += f"[{c}]"
        elif c is not None:
            out += f".{c}" if out else c
    return out


def _too_deep(components: Sequence[Component], limits: Limits, line: int | None) -> Problem:
    # The full path of the offending value is as deep as the problem; its start
    # says where to look.
    where = path_text([c for c in components if c is not None][:3])
    at = f" (line {line})" if line is not None else ""
    return Problem(where, f"nested more than {limits.depth} levels deep{at}")


def read_document(
    path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS
) -> tuple[Any, list[Problem]]:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) file into plain data.

    Returns the data and the problems that leave it readable (duplicate keys).

    Raises:
        BlueprintError: the file cannot be read, is too large, is not valid
            YAML/JSON, or is nested too deeply to read.
    """
    p = Path(path)

    def fail(message: str) -> BlueprintError:
        return BlueprintError([Problem("", message)], str(p))

    try:
        with p.open("rb") as f:
            raw = f.read(limits.document_bytes + 1)
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror}") from exc
    if len(raw) > limits.document_bytes:
        raise fail(f"the file is larger than {limits.document_bytes} bytes (Limits.document_bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    return read_document_text(text, "json" if p.suffix == ".json" else "yaml", limits, str(p))


def read_document_text(
    text: str, kind: str, limits: Limits = DEFAULT_LIMITS, source: str | None = None
) -> tuple[Any, list[Problem]]:
    """``read_document`` for text already in hand (``kind``: ``yaml`` or ``json``)."""

    def fail(message: str) -> BlueprintError:
        return BlueprintError([Problem("", message)], source)

    if len(text.encode()) > limits.document_bytes:
        raise fail(f"the document is larger than {limits.document_bytes} bytes")
    name = "JSON" if kind == "json" else "YAML"
    try:
        return _read_json(text, limits) if kind == "json" else _read_yaml(text, limits)
    except _TooDeep as exc:
        raise BlueprintError([exc.problem], source) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise fail(f"not valid {name}: {exc}") from exc
    except RecursionError:
        # Only reachable when Limits.depth is raised near Python's recursion limit.
        raise fail("nested too deeply to read (Limits.depth)") from None


class _TooDeep(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# -- YAML ------------------------------------------------------------------------------


def _read_yaml(text: str, limits: Limits) -> tuple[Any, list[Problem]]:
    loader = _Loader(text, limits)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, tracking the path of the node being composed so that
    duplicate keys and deep nesting are reported where they are. Its composer
    recurses once per level, hence the depth check before it descends."""

    def __init__(self, text: str, limits: Limits) -> None:
        super().__init__(text)
        self.limits = limits
        self.path: list[Component] = []
        self.level = 0
        self.duplicates: list[Problem] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if isinstance(index, int):
            component: Component = index
        elif isinstance(index, yaml.ScalarNode):
            component = str(index.value)
        else:  # the document, or a mapping key
            component = None
        self.path.append(component)
        try:
            return super().compose_node(parent, index)
        finally:
            self.path.pop()

    def _descend(self) -> None:
        self.level += 1
        if self.level > self.limits.depth:
            # types-PyYAML leaves Parser.peek_event unannotated
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _TooDeep(_too_deep(self.path, self.limits, mark.line + 1 if mark else None))

    def compose_sequence_node(self, anchor: Any) -> yaml.SequenceNode:
        self._descend()
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self.level -= 1

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        self._descend()
        try:
            node = super().compose_mapping_node(anchor)
        finally:
            self.level -= 1
        first: dict[tuple[str, str], yaml.Node] = {}
        for key, _ in node.value:
            # Keys merged in with `<<` may be overridden; that is what merging is for.
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            seen = first.setdefault((key.tag, key.value), key)
            if seen is not key:
                where = path_text([*self.path, str(key.value)])
                lines = f"line {_line(key)}; first on line {_line(seen)}"
                self.duplicates.append(Problem(where, f"duplicate key ({lines})"))
        return node


def _line(node: yaml.Node) -> int | str:
    return node.start_mark.line + 1 if node.start_mark else "?"


# -- JSON ------------------------------------------------------------------------------


def _read_json(text: str, limits: Limits) -> tuple[Any, list[Problem]]:
    # The decoder recurses once per level: measure first (strings may hold brackets).
    bare = _JSON_STRING.sub("", text)  # valid JSON strings hold no raw newline
    level = 0
    for m in _JSON_BRACKET.finditer(bare):
        level += 1 if m.group() in "[{" else -1
        if level > limits.depth:
            raise _TooDeep(_too_deep([], limits, bare.count("\n", 0, m.start()) + 1))
    marked: dict[int, list[str]] = {}
    keep: list[dict[str, Any]] = []  # marked mappings, so that their ids stay unique

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                marked.setdefault(id(out), []).append(key)
            out[key] = value
        if id(out) in marked:
            keep.append(out)
        return out

    data = json.loads(text, object_pairs_hook=pairs)
    problems = [
        Problem(path_text([*where, key]), "duplicate key")
        for obj, where in _walk(data)
        for key in marked.get(id(obj), ())
    ]
    return data, problems


def _walk(data: Any) -> Iterator[tuple[Any, list[Component]]]:
    """Every mapping in ``data`` (a tree: decoded JSON) with its path."""
    stack: list[tuple[Any, list[Component]]] = [(data, [])]
    while stack:
        obj, where = stack.pop()
        if isinstance(obj, Mapping):
            yield obj, where
            stack.extend((v, [*where, str(k)]) for k, v in obj.items())
        elif isinstance(obj, list):
            stack.extend((v, [*where, i]) for i, v in enumerate(obj))


# -- any data --------------------------------------------------------------------------


@dataclass
class _Frame:
    obj: Any
    key: Component
    children: Iterator[tuple[Component, Any]]
    size: int = 1


def _children(obj: Any) -> Iterator[tuple[Component, Any]]:
    if isinstance(obj, Mapping):
        return ((str(k), v) for k, v in obj.items())
    return iter(enumerate(obj))


def _container(obj: Any) -> bool:
    return isinstance(obj, Mapping | list | tuple)


def check_shape(data: Any, limits: Limits = DEFAULT_LIMITS) -> list[Problem]:
    """Problems that make ``data`` unsafe to process further: nesting deeper than
    ``limits.depth``, a value that contains itself, or repeated references (YAML
    aliases) that would expand to more than ``limits.aliases`` extra values.

    Walks each distinct container once, so a bomb costs no more than its text.
    """
    if not _container(data):
        return []
    sizes: dict[int, int] = {}  # expanded size of each container walked
    stack = [_Frame(data, None, _children(data))]
    open_ids = {id(data)}
    extra = 0

    def where(key: Component) -> list[Component]:
        return [*(f.key for f in stack[1:]), key]

    while stack:
        top = stack[-1]
        for key, child in top.children:
            if not _container(child):
                top.size += 1
                continue
            cid = id(child)
            if cid in open_ids:
                return [Problem(path_text(where(key)), "contains itself (a recursive alias)")]
            if cid in sizes:
                top.size += sizes[cid]
                extra += sizes[cid]
                if extra > limits.aliases:
                    return [
                        Problem(
                            path_text(where(key)),
                            f"aliases expand to more than {limits.aliases} values (Limits.aliases)",
                        )
                    ]
                continue
            if len(stack) >= limits.depth:
                return [_too_deep(where(key), limits, None)]
            stack.append(_Frame(child, key, _children(child)))
            open_ids.add(cid)
            break
        else:
            stack.pop()
            open_ids.discard(id(top.obj))
            sizes[id(top.obj)] = top.size
            if stack:
                stack[-1].size += top.size
    return []
