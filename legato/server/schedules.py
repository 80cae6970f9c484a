"""The REST API's schedules: list (with each next fire time), add, pause, resume,
delete; the same operations as ``legato schedule``, on the same store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request

from legato.runtime.schedules import Schedules
from legato.schemas.schedules import Schedule
from legato.server.errors import ApiError
from legato.server.security import read_json

if TYPE_CHECKING:
    from legato.server.app import Api


def _schedules(api: Api) -> Schedules:
    return Schedules(api.control.backend, api.control.ending)


def _view(sched: Schedule, nxt: float | None) -> dict[str, Any]:
    """Every field, defaults included; ``next``: unix seconds (None while paused)."""
    out = {f: msgspec.to_builtins(getattr(sched, f)) for f in sched.__struct_fields__}
    out["next"] = nxt
    return out


async def list_schedules(api: Api, request: Request) -> Any:
    return {"schedules": [_view(s, nxt) for s, nxt in await _schedules(api).entries()]}


async def add_schedule(api: Api, request: Request) -> Any:
    """The body is a schedule: ``name``, ``blueprint``, ``cron`` and optionally
    ``version``, ``timezone``, ``input``, ``catch_up`` (``legato schedule add``'s)."""
    body = await read_json(request, api.max_body)
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a schedule (a JSON object)")
    body.pop("paused", None)  # added schedules run; pause one after adding it
    try:
        sched = msgspec.convert(body, Schedule)
    except msgspec.ValidationError as exc:
        raise ApiError("invalid_request", f"invalid schedule: {exc}") from None
    nxt = await _schedules(api).add(sched)
    return {"schedule": sched.name, "next": nxt}


async def pause_schedule(api: Api, request: Request) -> Any:
    name = request.path_params["name"]
    await _schedules(api).pause(name)
    return {"schedule": name, "paused": True, "next": None}


async def resume_schedule(api: Api, request: Request) -> Any:
    name = request.path_params["name"]
    nxt = await _schedules(api).resume(name)
    return {"schedule": name, "paused": False, "next": nxt}


async def delete_schedule(api: Api, request: Request) -> Any:
    name = request.path_params["name"]
    await _schedules(api).delete(name)
    return {"schedule": name, "deleted": True}
