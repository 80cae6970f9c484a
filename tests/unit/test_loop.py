"""The event loop Legato's processes run on (legato.loop)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from legato.loop import loop_factory, run
from legato.runtime.errors import ConfigError


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    assert loop_factory({}) is uvloop.new_event_loop
    assert loop_factory({"LEGATO_EVENT_LOOP": "UVLOOP"}) is uvloop.new_event_loop
    assert loop_factory({"LEGATO_EVENT_LOOP": "asyncio"}) is asyncio.new_event_loop


def test_an_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LEGATO_EVENT_LOOP must be one of uvloop, asyncio"):
        loop_factory({"LEGATO_EVENT_LOOP": "trio"})


def test_run_runs_on_the_chosen_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    async def kind() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(kind()).startswith("uvloop")
    monkeypatch.setenv("LEGATO_EVENT_LOOP", "asyncio")
    assert run(kind()).startswith("asyncio")
