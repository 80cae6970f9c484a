"""Bearer tokens and request body limits (ASGI middleware and helpers).

With a token configured, every ``/api/`` request must carry ``Authorization:
Bearer <token>``; the comparison takes constant time and the token is never
logged. The web UI's static files hold no data and are served without it (a
browser cannot attach a header to a page load); the UI asks for the token and
sends it with each API call.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from legato.server.errors import ApiError, error_response

DEFAULT_MAX_BODY = 1024 * 1024  # bytes; blueprints and run inputs are bounded anyway


class TokenAuth:
    """Refuses ``/api/`` requests without the bearer ``token`` (401)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._expected is not None
            and scope["type"] == "http"
            and scope["path"].startswith("/api/")
        ):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                error = ApiError(
                    "unauthorized", "a valid 'Authorization: Bearer <token>' is needed"
                )
                response = error_response(error, {"WWW-Authenticate": 'Bearer realm="legato"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes, whether or not the
    client declared its length; nothing past the limit is read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", f"the request body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("body_too_large", f"the request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON (``malformed_json`` if it is not); an empty body is ``None``."""
    import msgspec

    raw = await read_body(request, limit)
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError("malformed_json", f"the request body is not valid JSON: {exc}") from exc
