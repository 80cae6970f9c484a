"""The JSON Schema accepts exactly the documents the parser accepts.

Documents are generated near the schema's edges: each field is left out, given
a value of its own type, a shorthand (``version: 1``, ``loop: true``), or a
JSON value of any type, and unknown keys turn up, so that both accepted and
refused documents are common. The schema is what editors validate with: if it
refuses what the parser takes, or the reverse, a user gets contradictory advice.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from legato.runtime.blueprint import parse_blueprint
from legato.runtime.errors import BlueprintError
from legato.schemas.blueprint import blueprint_json_schema

VALIDATOR = jsonschema.Draft202012Validator(blueprint_json_schema())

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4)
INTS = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | INTS | FLOATS | TEXT
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


# How often a value is replaced, left out or an unknown key added, in percent: one
# rate per document, so that some documents are valid and others broken many ways.
RATE = st.shared(st.sampled_from([0, 2, 10, 40]), key="rate")


@st.composite
def mutated(draw: st.DrawFn, own: st.SearchStrategy[Any]) -> Any:
    """A value from ``own``, or now and then any JSON value at all."""
    return draw(ANY_JSON) if draw(st.integers(0, 99)) < draw(RATE) else draw(own)


@st.composite
def struct(
    draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A mapping with ``fields``: optional ones are sometimes left out, and at the
    document's rate a field is left out or given any value, or an unknown key added."""
    rate = draw(RATE)
    out: dict[str, Any] = {}
    for name, own in fields.items():
        roll = draw(st.integers(0, 99))
        if roll < rate // 2:
            out[name] = draw(ANY_JSON)
        elif roll < rate or (name not in required and roll > 80):
            continue
        else:
            out[name] = draw(own)
    if draw(st.integers(0, 99)) < rate // 2:
        out[draw(TEXT.filter(lambda k: k not in fields))] = draw(ANY_JSON)
    return out


INTEGRAL = INTS | st.integers(-1000, 1000).map(float)  # JSON does not tell 3 from 3.0
NUMBER = INTS | FLOATS
RETRY = struct(
    {
        "max_attempts": INTEGRAL,
        "initial_delay": NUMBER,
        "multiplier": NUMBER,
        "max_delay": NUMBER,
        "jitter": NUMBER,
    }
)
CONFIG = struct(
    {
        "retry": st.none() | RETRY,
        "timeout": st.none() | NUMBER,
        "fallback": st.none() | TEXT,
        "join": st.sampled_from(["all", "any"]),
    }
)
NODE = struct(
    {
        "id": TEXT,
        "uses": TEXT,
        "params": st.dictionaries(TEXT, ANY_JSON, max_size=2),
        "inputs": st.none() | TEXT | st.dictionaries(TEXT, mutated(TEXT), max_size=2),
        "config": CONFIG,
    },
    required=("id", "uses"),
)
LOOP = struct({"max_iterations": INTEGRAL})
EDGE = struct(
    {
        "source": TEXT,
        "target": TEXT,
        "action": st.none() | TEXT,
        "condition": st.none() | TEXT,
        "transform": st.none() | TEXT,
        "loop": st.none() | st.booleans() | LOOP,
    },
    required=("source", "target"),
)
DOCUMENT = struct(
    {
        "id": TEXT,
        "nodes": st.lists(mutated(NODE), max_size=3),
        "edges": st.lists(mutated(EDGE), max_size=3),
        "version": TEXT | NUMBER,
        "metadata": st.dictionaries(TEXT, ANY_JSON, max_size=2),
    },
    required=("id", "nodes"),
)


def parses(doc: Any) -> bool:
    try:
        parse_blueprint(doc)
    except BlueprintError:
        return False
    return True


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(DOCUMENT))
def test_the_schema_accepts_exactly_what_the_parser_accepts(doc: Any) -> None:
    accepted = parses(doc)
    event("accepted" if accepted else "refused")
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert accepted == (not errors), f"parser {'accepts' if accepted else 'refuses'}: {errors}"


def test_the_shorthands_of_the_examples_are_in_the_schema() -> None:
    doc = {
        "id": "x",
        "version": 1,
        "nodes": [{"id": "a", "uses": "m:f"}],
        "edges": [{"source": "a", "target": "a", "loop": True}],
    }
    assert parses(doc)
    assert not list(VALIDATOR.iter_errors(doc))
