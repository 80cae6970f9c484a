"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Message schemas come from the msgspec types the API encodes (run headers, history
events, the ``start_run`` command, workers); ``tests/server`` holds the document
to the app's routes both ways.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from legato.schemas import Event, RunHeader, WorkerInfo
from legato.schemas.commands import StartRun
from legato.server.errors import CODES

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"description": description}
    if schema is not None:
        body["content"] = {_JSON: {"schema": schema}}  # type: ignore[assignment]
    return body


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    status: str = "200",
    params: tuple[str, ...] = (),
    query: tuple[tuple[str, str], ...] = (),
    body: dict[str, Any] | None = None,
    errors: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok}}
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
    ]
    parameters += [
        {
            "name": q,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": d,
        }
        for q, d in query
    ]
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    for code in ("unauthorized", "unavailable", *errors):
        op["responses"].setdefault(
            str(CODES[code]), {"description": code, "content": {_JSON: {"schema": _ref("Error")}}}
        )
    return op


_OBJ = {"type": "object"}
_BP = ("blueprint_id", "version")
_RUN = ("run_id",)
_WINDOW = (
    ("blueprint", "a blueprint id"),
    ("status", "running, completed, failed or cancelled"),
    ("since", "started after: a duration ago (30s, 15m, 1h, 2d) or unix seconds"),
    ("until", "started before: the same forms"),
    ("limit", "runs per page, 1 to 1000 (default 50)"),
    ("cursor", "the cursor of the previous page"),
)


@cache
def openapi_document() -> dict[str, Any]:
    (names, components) = msgspec.json.schema_components(
        (RunHeader, Event, StartRun, WorkerInfo), ref_template="#/components/schemas/{name}"
    )
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(CODES)},
                    "message": {"type": "string"},
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }
    header, event, start, worker = names
    paths: dict[str, dict[str, Any]] = {
        "/openapi.json": {"get": _op("This document", _ok("OpenAPI 3.1", _OBJ))},
        "/blueprints": {
            "get": _op("Registered blueprint versions", _ok("versions", _OBJ)),
            "post": _op(
                'Register a blueprint: the document as JSON, or {"yaml": "..."}',
                _ok("registered: {id, version, registered}", _OBJ),
                status="201",
                body=_OBJ,
                errors=("malformed_json", "invalid_request", "invalid_blueprint", "body_too_large"),
            ),
        },
        "/blueprints/{blueprint_id}": {
            "get": _op(
                "The versions of one blueprint",
                _ok("versions", _OBJ),
                params=("blueprint_id",),
                errors=("blueprint_not_found",),
            ),
        },
        "/blueprints/{blueprint_id}/versions/{version}": {
            "get": _op(
                "A blueprint version: its document and graph",
                _ok("blueprint", _OBJ),
                params=_BP,
                errors=("blueprint_not_found",),
            ),
        },
        "/blueprints/{blueprint_id}/versions/{version}/deactivate": {
            "post": _op(
                "Refuse new runs of this version",
                _ok("{id, version, active}", _OBJ),
                params=_BP,
                errors=("blueprint_not_found",),
            ),
        },
        "/blueprints/{blueprint_id}/versions/{version}/activate": {
            "post": _op(
                "Allow new runs of this version again",
                _ok("{id, version, active}", _OBJ),
                params=_BP,
                errors=("blueprint_not_found",),
            ),
        },
        "/runs": {
            "get": _op(
                "Runs, newest first, a page at a time",
                _ok("{runs, cursor}", _OBJ),
                query=_WINDOW,
                errors=("invalid_request",),
            ),
            "post": _op(
                "Start a run: the body of a start_run command (type may be left out)",
                _ok("{run_id}", _OBJ),
                status="201",
                body=start,
                errors=(
                    "malformed_json",
                    "invalid_request",
                    "blueprint_not_found",
                    "blueprint_inactive",
                    "body_too_large",
                ),
            ),
        },
        "/runs/{run_id}": {
            "get": _op(
                "A run's header and the status of each node",
                _ok("run", header),
                params=_RUN,
                errors=("run_not_found",),
            ),
        },
        "/runs/{run_id}/steps": {
            "get": _op(
                "Each step: status, attempts, input, output, errors",
                _ok("{run_id, steps}", _OBJ),
                params=_RUN,
                errors=("run_not_found",),
            ),
        },
        "/runs/{run_id}/history": {
            "get": _op(
                "The run's events in order",
                _ok(
                    "{run_id, events}",
                    {
                        "type": "object",
                        "properties": {
                            "run_id": {"type": "string"},
                            "events": {"type": "array", "items": event},
                        },
                    },
                ),
                params=_RUN,
                errors=("run_not_found",),
            ),
        },
        "/runs/{run_id}/cancel": {
            "post": _op(
                "Cancel a running run ({reason} optional)",
                _ok("{run_id, cancelled}", _OBJ),
                params=_RUN,
                body=_OBJ,
                errors=("run_not_found", "run_ended", "malformed_json"),
            ),
        },
        "/runs/{run_id}/signal": {
            "post": _op(
                "Send a signal: {name, data?, key?}",
                _ok("{run_id, signal, kept}", _OBJ),
                params=_RUN,
                body=_OBJ,
                errors=("run_not_found", "run_ended", "malformed_json", "invalid_request"),
            ),
        },
        "/runs/{run_id}/pause": {
            "post": _op(
                "Pause a running run: no new step starts ({reason} optional)",
                _ok("{run_id, status}", _OBJ),
                params=_RUN,
                body=_OBJ,
                errors=("run_not_found", "run_state", "malformed_json"),
            ),
        },
        "/runs/{run_id}/resume": {
            "post": _op(
                "Resume a paused run (its held jobs and timers go on)",
                _ok("{run_id, status, released}", _OBJ),
                params=_RUN,
                body=_OBJ,
                errors=("run_not_found", "run_state", "malformed_json"),
            ),
        },
        "/runs/{run_id}/retry": {
            "post": _op(
                "Re-open a failed or cancelled run from where it failed ({from_step} optional)",
                _ok("{run_id, status, reset}", _OBJ),
                params=_RUN,
                body=_OBJ,
                errors=("run_not_found", "run_state", "malformed_json", "invalid_request"),
            ),
        },
        "/schedules": {
            "get": _op("Every schedule with its next fire time", _ok("{schedules}", _OBJ)),
            "post": _op(
                "Add (or replace) a schedule: {name, blueprint, cron, version?, timezone?, "
                "input?, catch_up?}",
                _ok("{schedule, next}", _OBJ),
                status="201",
                body=_OBJ,
                errors=("invalid_schedule", "malformed_json", "invalid_request"),
            ),
        },
        "/schedules/{name}/pause": {
            "post": _op(
                "Pause a schedule: no tick starts a run",
                _ok("{schedule, paused, next}", _OBJ),
                params=("name",),
                errors=("schedule_not_found",),
            ),
        },
        "/schedules/{name}/resume": {
            "post": _op(
                "Resume a paused schedule from its next tick",
                _ok("{schedule, paused, next}", _OBJ),
                params=("name",),
                errors=("schedule_not_found",),
            ),
        },
        "/schedules/{name}": {
            "delete": _op(
                "Delete a schedule",
                _ok("{schedule, deleted}", _OBJ),
                params=("name",),
                errors=("schedule_not_found",),
            ),
        },
        "/status": {
            "get": _op(
                "Runs by status, active runs, consumer lag (distributed)",
                _ok("status", _OBJ),
                query=(("since", "window of the counts (24h)"),),
            ),
        },
        "/workers": {
            "get": _op(
                "Live workers",
                _ok(
                    "{workers}",
                    {
                        "type": "object",
                        "properties": {"workers": {"type": "array", "items": worker}},
                    },
                ),
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Legato", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": paths,
    }
