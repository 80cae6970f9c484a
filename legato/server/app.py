"""The ASGI app: ``/api/v1`` (JSON; OpenAPI at ``/api/v1/openapi.json``) and the web UI at ``/``.

It steers runs through run control (``RunControl``), as the client and the CLI
do: it runs no steps itself (an embedded server's engine does, beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from legato.runtime.control import RunControl
from legato.runtime.errors import LegatoError
from legato.runtime.nodes import NodeCatalog
from legato.server import handlers, schedules
from legato.server.errors import ApiError, error_response, from_legato
from legato.server.openapi import openapi_document
from legato.server.security import DEFAULT_MAX_BODY, TokenAuth

log = logging.getLogger("legato.server")

LagSource = Callable[[], Awaitable[dict[str, dict[int, int]]]]


@dataclass
class Api:
    """What the handlers work with.

    Attributes:
        control: run control over the deployment (or the embedded engine's).
        lag: consumer lag by topic and partition (distributed only; None embedded).
        max_body: the largest request body accepted, in bytes.
        catalog: node code to check registered blueprints against (embedded: this
            process runs them); None checks their structure only.
    """

    control: RunControl
    lag: LagSource | None = None
    max_body: int = DEFAULT_MAX_BODY
    catalog: NodeCatalog | None = None


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status_code=status, media_type="application/json")


def _static_dir() -> str:
    return str(resources.files("legato.server").joinpath("static"))


def create_app(api: Api, *, token: str | None = None) -> Any:
    """The ASGI app serving ``api``; with ``token``, ``/api/`` needs it as a bearer token."""

    def endpoint(fn: Callable[[Api, Request], Awaitable[Any]], status: int = 200) -> Any:
        async def handle(request: Request) -> Response:
            try:
                return json_response(await fn(api, request), status)
            except ApiError as exc:
                return error_response(exc)
            except LegatoError as exc:
                return error_response(from_legato(exc))
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(ApiError("internal", "internal error (see the server log)"))

        return handle

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document())

    async def index(request: Request) -> Response:
        return FileResponse(f"{_static_dir()}/index.html", media_type="text/html")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error_response(ApiError("method_not_allowed", f"{request.method} not allowed"))
        return error_response(ApiError("not_found", f"no such path: {request.url.path}"))

    v1 = "/api/v1"
    routes = [
        Route(f"{v1}/openapi.json", openapi),
        Route(f"{v1}/blueprints", endpoint(handlers.list_blueprints)),
        Route(f"{v1}/blueprints", endpoint(handlers.register_blueprint, 201), methods=["POST"]),
        Route(f"{v1}/blueprints/{{blueprint_id}}", endpoint(handlers.blueprint_versions)),
        Route(
            f"{v1}/blueprints/{{blueprint_id}}/versions/{{version}}",
            endpoint(handlers.show_blueprint),
        ),
        Route(
            f"{v1}/blueprints/{{blueprint_id}}/versions/{{version}}/deactivate",
            endpoint(handlers.deactivate_blueprint),
            methods=["POST"],
        ),
        Route(
            f"{v1}/blueprints/{{blueprint_id}}/versions/{{version}}/activate",
            endpoint(handlers.activate_blueprint),
            methods=["POST"],
        ),
        Route(f"{v1}/runs", endpoint(handlers.list_runs)),
        Route(f"{v1}/runs", endpoint(handlers.start_run, 201), methods=["POST"]),
        Route(f"{v1}/runs/{{run_id}}", endpoint(handlers.show_run)),
        Route(f"{v1}/runs/{{run_id}}/steps", endpoint(handlers.run_steps)),
        Route(f"{v1}/runs/{{run_id}}/history", endpoint(handlers.run_history)),
        Route(f"{v1}/runs/{{run_id}}/cancel", endpoint(handlers.cancel_run), methods=["POST"]),
        Route(f"{v1}/runs/{{run_id}}/signal", endpoint(handlers.signal_run), methods=["POST"]),
        Route(f"{v1}/runs/{{run_id}}/pause", endpoint(handlers.pause_run), methods=["POST"]),
        Route(f"{v1}/runs/{{run_id}}/resume", endpoint(handlers.resume_run), methods=["POST"]),
        Route(f"{v1}/runs/{{run_id}}/retry", endpoint(handlers.retry_run), methods=["POST"]),
        Route(f"{v1}/schedules", endpoint(schedules.list_schedules)),
        Route(f"{v1}/schedules", endpoint(schedules.add_schedule, 201), methods=["POST"]),
        Route(
            f"{v1}/schedules/{{name}}/pause", endpoint(schedules.pause_schedule), methods=["POST"]
        ),
        Route(
            f"{v1}/schedules/{{name}}/resume",
            endpoint(schedules.resume_schedule),
            methods=["POST"],
        ),
        Route(f"{v1}/schedules/{{name}}", endpoint(schedules.delete_schedule), methods=["DELETE"]),
        Route(f"{v1}/status", endpoint(handlers.status)),
        Route(f"{v1}/workers", endpoint(handlers.workers)),
        Route("/", index),
        Mount("/static", StaticFiles(directory=_static_dir()), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return TokenAuth(app, token)
