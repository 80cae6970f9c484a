"""The API's handlers: each takes the ``Api`` and the request, returns what to encode."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request

from legato.runtime.compiler import compile_document, structure_catalog
from legato.runtime.documents import read_document_text
from legato.runtime.errors import BlueprintError, UnknownBlueprintError
from legato.schemas import TERMINAL_STATUSES, RunHeader
from legato.schemas.commands import StartRun
from legato.server import views
from legato.server.errors import ApiError
from legato.server.security import read_json

if TYPE_CHECKING:
    from legato.server.app import Api

_start_decoder = msgspec.json.Decoder(StartRun)
STATUSES = ("running", "completed", "failed", "cancelled")
COUNT_CAP = 10_000  # runs counted per status in GET /status, at most
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


_INTERNAL = ("parked_at", "parked_until")  # the reconciler's bookkeeping


def _run(header: RunHeader) -> dict[str, Any]:
    """A run header with every field, defaults included (a running run's ``status``
    and a null ``input`` are not left out, as the stored encoding leaves them)."""
    fields = header.__struct_fields__
    return {f: _builtins(getattr(header, f)) for f in fields if f not in _INTERNAL}


def parse_time(text: str | None, name: str, now: float) -> datetime | None:
    """``1h``/``30m``/``2d``/``45s`` ago, unix seconds, or an ISO 8601 time (UTC unless
    it says otherwise); None when absent."""
    if text is None or text == "":
        return None
    m = _DURATION.match(text)
    if m:
        return datetime.fromtimestamp(now - float(m.group(1)) * _UNITS[m.group(2)], UTC)
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            "invalid_request",
            f"{name} must be a duration (30s, 15m, 1h, 2d), unix seconds or an ISO 8601 time",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _limit(text: str | None) -> int:
    if text is None:
        return 50
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ApiError("invalid_request", "limit must be an integer from 1 to 1000")
    return int(text)


# -- blueprints -------------------------------------------------------------------------


def _info(i: Any) -> dict[str, Any]:
    return {"id": i.id, "version": i.version, "active": i.active, "registered_at": i.registered_at}


async def list_blueprints(api: Api, request: Request) -> Any:
    infos = await api.control.backend.blueprints.list_blueprints()
    return {"blueprints": [_info(i) for i in infos]}


async def blueprint_versions(api: Api, request: Request) -> Any:
    bid = request.path_params["blueprint_id"]
    infos = await api.control.backend.blueprints.list_blueprints(bid)
    if not infos:
        raise ApiError("blueprint_not_found", f"blueprint {bid!r} is not registered")
    return {"id": bid, "versions": [_info(i) for i in infos]}


async def register_blueprint(api: Api, request: Request) -> Any:
    """The blueprint document as JSON, or ``{"yaml": "..."}``, compiled (every
    problem listed). ``registered`` is False when that version was registered before
    with other content (versions are immutable: the first one stays)."""
    body = await read_json(request, api.max_body)
    if isinstance(body, dict) and set(body) == {"yaml"}:
        if not isinstance(body["yaml"], str):
            raise ApiError("invalid_request", "'yaml' must be a string holding the document")
        data, problems = read_document_text(body["yaml"], "yaml")
        if problems:
            raise BlueprintError(problems, "request")
    elif isinstance(body, dict):
        data = body
    else:
        raise ApiError("invalid_request", 'the body must be a blueprint document or {"yaml": ...}')
    # Every problem at once; node code is checked only where this process runs it.
    catalog = api.catalog if api.catalog is not None else structure_catalog()
    reg = compile_document(data, catalog, source="request")
    await api.control.backend.blueprints.put_blueprint(reg.blueprint)
    stored = await api.control.backend.blueprints.get_blueprint(reg.id, reg.version)
    same = stored == reg.blueprint
    return {"id": reg.id, "version": reg.version, "registered": same}


async def _blueprint(api: Api, request: Request) -> Any:
    bid, version = request.path_params["blueprint_id"], request.path_params["version"]
    bp = await api.control.backend.blueprints.get_blueprint(bid, version)
    if bp is None:
        raise UnknownBlueprintError(f"blueprint {bid!r} version {version!r} is not registered")
    return bp


async def show_blueprint(api: Api, request: Request) -> Any:
    bp = await _blueprint(api, request)
    infos = await api.control.backend.blueprints.list_blueprints(bp.id)
    active = next((i.active for i in infos if i.version == bp.version), True)
    return {
        "id": bp.id,
        "version": bp.version,
        "active": active,
        "document": _builtins(bp),
        "graph": views.graph(bp),
    }


async def _set_active(api: Api, request: Request, active: bool) -> Any:
    bp = await _blueprint(api, request)
    await api.control.backend.blueprints.set_blueprint_active(bp.id, bp.version, active)
    return {"id": bp.id, "version": bp.version, "active": active}


async def deactivate_blueprint(api: Api, request: Request) -> Any:
    return await _set_active(api, request, False)


async def activate_blueprint(api: Api, request: Request) -> Any:
    return await _set_active(api, request, True)


# -- runs -------------------------------------------------------------------------------


async def start_run(api: Api, request: Request) -> Any:
    """The body of a ``start_run`` command (``type`` may be left out)."""
    body = await read_json(request, api.max_body)
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a start_run command (a JSON object)")
    body.setdefault("type", "start_run")
    try:
        command = _start_decoder.decode(msgspec.json.encode(body))
    except msgspec.ValidationError as exc:
        raise ApiError("invalid_request", f"not a start_run command: {exc}") from exc
    run_id = await api.control.start_registered(
        command.blueprint, command.version, command.input, run_id=command.run_id
    )
    return {"run_id": run_id}


async def list_runs(api: Api, request: Request) -> Any:
    q = request.query_params
    now = time.time()
    status = q.get("status") or None
    page = await api.control.list_runs(
        blueprint=q.get("blueprint") or None,
        status=status,
        since=parse_time(q.get("since"), "since", now),
        until=parse_time(q.get("until"), "until", now),
        limit=_limit(q.get("limit")),
        cursor=q.get("cursor") or None,
    )
    return {"runs": [_builtins(r) for r in page.runs], "cursor": page.cursor}


async def _events(api: Api, run_id: str) -> tuple[Any, list[Any]]:
    header = await api.control.status(run_id)  # RunNotFoundError: 404
    return header, await api.control.backend.store.history(run_id)


async def show_run(api: Api, request: Request) -> Any:
    header, events = await _events(api, request.path_params["run_id"])
    bp = await api.control.backend.blueprints.get_blueprint(header.blueprint_id, header.version)
    out = _run(header)
    out["nodes"] = views.node_colours(bp, events) if bp is not None else {}
    out["ended"] = header.status in TERMINAL_STATUSES
    return out


async def run_steps(api: Api, request: Request) -> Any:
    header, events = await _events(api, request.path_params["run_id"])
    reg = await api.control.registries.structure(header.blueprint_id, header.version)
    return {"run_id": header.run_id, "steps": views.steps(reg, header.run_id, events)}


async def run_history(api: Api, request: Request) -> Any:
    header, events = await _events(api, request.path_params["run_id"])
    return {"run_id": header.run_id, "events": [_builtins(e) for e in events]}


async def _body_object(api: Api, request: Request) -> dict[str, Any]:
    body = await read_json(request, api.max_body)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "the body must be a JSON object")
    return body


async def cancel_run(api: Api, request: Request) -> Any:
    run_id = request.path_params["run_id"]
    body = await _body_object(api, request)
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ApiError("invalid_request", "reason must be a string")
    if not await api.control.cancel(run_id, reason):
        raise ApiError("run_ended", f"run {run_id!r} has ended already")
    return {"run_id": run_id, "cancelled": True}


async def signal_run(api: Api, request: Request) -> Any:
    run_id = request.path_params["run_id"]
    body = await _body_object(api, request)
    name, key = body.get("name"), body.get("key")
    if not isinstance(name, str) or not name:
        raise ApiError("invalid_request", "name (the signal's name) is required")
    if key is not None and not isinstance(key, str):
        raise ApiError("invalid_request", "key must be a string")
    header = await api.control.status(run_id)
    if header.status not in ("running", "paused"):  # a paused run keeps its signals
        raise ApiError("run_ended", f"run {run_id!r} has ended already")
    kept = await api.control.signal(run_id, name, body.get("data"), key=key)
    return {"run_id": run_id, "signal": name, "kept": kept}


async def pause_run(api: Api, request: Request) -> Any:
    run_id = request.path_params["run_id"]
    body = await _body_object(api, request)
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ApiError("invalid_request", "reason must be a string")
    await api.control.pause(run_id, reason)  # RunStateError: not running
    return {"run_id": run_id, "status": "paused"}


async def resume_run(api: Api, request: Request) -> Any:
    run_id = request.path_params["run_id"]
    await _body_object(api, request)
    released = await api.control.resume(run_id)  # RunStateError: not paused
    return {"run_id": run_id, "status": "running", "released": released}


async def retry_run(api: Api, request: Request) -> Any:
    from legato.reconciler.retry import retry_run as retry

    run_id = request.path_params["run_id"]
    body = await _body_object(api, request)
    from_step = body.get("from_step")
    if from_step is not None and not isinstance(from_step, str):
        raise ApiError("invalid_request", "from_step must be a step id")
    control = api.control
    event = await retry(
        control.backend,
        control.registries,
        control.ending,
        run_id,
        from_step,
        limits=control.limits,
    )
    return {"run_id": run_id, "status": "running", "reset": list(event.reset)}


# -- the deployment ---------------------------------------------------------------------


async def _count(api: Api, status: str, since: datetime | None) -> tuple[int, bool]:
    count, cursor = 0, None
    while count < COUNT_CAP:
        page = await api.control.list_runs(status=status, since=since, limit=1000, cursor=cursor)
        count += len(page.runs)
        cursor = page.cursor
        if cursor is None:
            return count, False
    return COUNT_CAP, True


async def status(api: Api, request: Request) -> Any:
    """Runs by status started within ``since`` (default 24h; at most ``COUNT_CAP``
    counted each), the active runs (first 20), and consumer lag (distributed)."""
    now = time.time()
    since = parse_time(request.query_params.get("since", "24h"), "since", now)
    counts, capped = {}, []
    for s in STATUSES:
        counts[s], over = await _count(api, s, since)
        if over:
            capped.append(s)
    active = await api.control.backend.store.list_active(limit=20)
    lag = await api.lag() if api.lag is not None else None
    return {
        "since": since.timestamp() if since is not None else None,
        "counts": counts,
        "capped": capped,
        "active_runs": [_run(h) for h in active.headers],
        "consumer_lag": (
            None
            if lag is None
            else {t: {"total": sum(p.values()), "partitions": p} for t, p in lag.items()}
        ),
    }


async def workers(api: Api, request: Request) -> Any:
    live = await api.control.backend.coordinator.live_workers()
    return {"workers": [_builtins(w) for w in live]}
