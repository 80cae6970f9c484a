"""API errors: JSON ``{"error": {"code", "message", "problems"?}}`` with a stable code.

Codes (and HTTP status): ``unauthorized`` 401, ``body_too_large`` 413,
``malformed_json`` 400, ``invalid_request`` 400, ``invalid_blueprint`` 422,
``run_not_found`` 404, ``blueprint_not_found`` 404, ``schedule_not_found`` 404,
``not_found`` 404, ``invalid_schedule`` 400 (a bad cron expression or time zone, an
unknown blueprint version),
``method_not_allowed`` 405, ``blueprint_inactive`` 409, ``run_ended`` 409,
``run_state`` 409 (pause a run that is not running, resume one that is not paused,
retry one that has not failed), ``unavailable`` 503, ``internal`` 500.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from legato.runtime.cron import ScheduleError, UnknownScheduleError
from legato.runtime.errors import (
    BackendUnavailableError,
    BlueprintError,
    BlueprintInactiveError,
    LegatoError,
    RunNotFoundError,
    RunStateError,
    UnknownBlueprintError,
)

CODES: dict[str, int] = {
    "unauthorized": 401,
    "body_too_large": 413,
    "malformed_json": 400,
    "invalid_request": 400,
    "invalid_blueprint": 422,
    "run_not_found": 404,
    "blueprint_not_found": 404,
    "schedule_not_found": 404,
    "invalid_schedule": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "blueprint_inactive": 409,
    "run_ended": 409,
    "run_state": 409,
    "unavailable": 503,
    "internal": 500,
}


class ApiError(Exception):
    """An error answered as JSON with ``code`` (a key of ``CODES``)."""

    def __init__(self, code: str, message: str, problems: list[str] | None = None) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = problems


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.problems is not None:
        body["problems"] = error.problems
    return Response(
        msgspec.json.encode({"error": body}),
        status_code=CODES[error.code],
        media_type="application/json",
        headers=headers,
    )


def from_legato(exc: LegatoError) -> ApiError:
    """The API error of a Legato error raised while serving a request."""
    match exc:
        case BlueprintError():
            return ApiError("invalid_blueprint", str(exc), [str(p) for p in exc.problems])
        case RunNotFoundError():
            return ApiError("run_not_found", str(exc))
        case RunStateError():
            return ApiError("run_state", str(exc))
        case UnknownBlueprintError():
            return ApiError("blueprint_not_found", str(exc))
        case BlueprintInactiveError():
            return ApiError("blueprint_inactive", str(exc))
        case BackendUnavailableError():
            return ApiError("unavailable", str(exc))
        case UnknownScheduleError():
            return ApiError("schedule_not_found", str(exc))
        case ScheduleError():
            return ApiError("invalid_schedule", str(exc))
    return ApiError("invalid_request", str(exc))
