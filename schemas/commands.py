"""Commands other services send to Legato as JSON on the commands topic, without
importing Legato. Tagged by ``type``; unknown fields are ignored (rolling deploys).

Example (start a run)::

    {"type": "start_run", "blueprint": "etl", "version": "1", "input": {"day": "2026-11-24"}}

``run_id`` may be given to make the command idempotent (a repeated start of the
same run id starts nothing). Signals and cancellation::

    {"type": "signal", "run_id": "...", "name": "approval", "data": {"approved": true}, "id": "..."}
    {"type": "cancel", "run_id": "...", "reason": "duplicate order"}
    {"type": "pause", "run_id": "...", "reason": "supplier outage"}
    {"type": "resume", "run_id": "..."}
    {"type": "retry", "run_id": "...", "from_step": "optional: this step and what follows"}
    {"type": "publish", "event": "payment", "key": "order-17", "data": {}, "retain": 600}
    {"type": "schedule_add", "name": "nightly", "blueprint": "etl", "cron": "0 2 * * *",
     "timezone": "Europe/Berlin", "catch_up": "latest"}
    {"type": "schedule", "name": "nightly", "action": "pause"}   # or resume, delete
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from legato.schemas._stable import stable_schema


class StartRun(msgspec.Struct, tag="start_run", tag_field="type", frozen=True):
    blueprint: str
    version: str = "1"
    input: Any = None
    run_id: str | None = None


class SendSignal(msgspec.Struct, tag="signal", tag_field="type", frozen=True):
    run_id: str
    name: str
    data: Any = None
    key: str | None = None
    id: str | None = None  # makes the command idempotent (a redelivery keeps one signal)


class CancelRun(msgspec.Struct, tag="cancel", tag_field="type", frozen=True):
    run_id: str
    reason: str = ""


class PauseRun(msgspec.Struct, tag="pause", tag_field="type", frozen=True):
    run_id: str
    reason: str = ""


class ResumeRun(msgspec.Struct, tag="resume", tag_field="type", frozen=True):
    run_id: str


class RetryRun(msgspec.Struct, tag="retry", tag_field="type", frozen=True):
    run_id: str
    from_step: str | None = None


class PublishEvent(msgspec.Struct, tag="publish", tag_field="type", frozen=True):
    event: str
    key: str
    data: Any = None
    retain: float = 0.0  # seconds
    id: str | None = None  # makes the command idempotent (a redelivery delivers once)


class AddSchedule(msgspec.Struct, tag="schedule_add", tag_field="type", frozen=True):
    name: str
    blueprint: str
    cron: str
    version: str | None = None
    timezone: str = "UTC"
    input: Any = None
    catch_up: Literal["skip", "latest", "all"] = "skip"


class SteerSchedule(msgspec.Struct, tag="schedule", tag_field="type", frozen=True):
    name: str
    action: Literal["pause", "resume", "delete"]


Command = (
    StartRun
    | SendSignal
    | CancelRun
    | PauseRun
    | ResumeRun
    | RetryRun
    | PublishEvent
    | AddSchedule
    | SteerSchedule
)
ALL = (
    StartRun,
    SendSignal,
    CancelRun,
    PauseRun,
    ResumeRun,
    RetryRun,
    PublishEvent,
    AddSchedule,
    SteerSchedule,
)
_decoder: msgspec.json.Decoder[Command] = msgspec.json.Decoder(Command)


def decode_command(raw: bytes) -> Command:
    """A command from its JSON; raises ``msgspec.DecodeError`` (the bus dead-letters it)."""
    return _decoder.decode(raw)


def command_json_schema() -> dict[str, Any]:
    """JSON Schema of the commands (for producers in other languages)."""
    schema = stable_schema(
        msgspec.json.schema(Command),
        ALL,
    )
    schema["title"] = "Legato command"
    return schema
