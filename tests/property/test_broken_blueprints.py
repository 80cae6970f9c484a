"""Problems injected into random valid blueprints are all reported, each at its
path, in one BlueprintError, and nothing else is: no echo of a problem already
reported, and never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import legato
from legato.runtime.errors import BlueprintError
from tests.property.broken import Broken, Draft, broken_blueprints, valid_drafts

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reported(source: legato.BlueprintSource) -> list[tuple[str, str]]:
    try:
        legato.compile(source)
    except BlueprintError as exc:
        return [(p.path, p.message) for p in exc.problems]
    return []


@SETTINGS
@given(valid_drafts())
def test_the_generated_blueprints_are_valid(draft: Draft) -> None:
    assert reported({"id": "ok", "nodes": draft.nodes, "edges": draft.edges}) == []


@SETTINGS
@given(broken_blueprints(), st.booleans())
def test_every_injected_problem_is_reported_at_its_path_and_nothing_else(
    case: Broken, from_file: bool
) -> None:
    if from_file:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "broken.yaml"
            path.write_text(yaml.safe_dump(case.document))
            found = reported(path)
    else:
        found = reported(case.document)
    for path, text in case.expected:
        assert any(p == path and text in m for p, m in found), (path, text, found)
    assert {p for p, _ in found} == {p for p, _ in case.expected}, case.injected
