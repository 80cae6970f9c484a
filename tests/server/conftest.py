"""An embedded API (an engine in this process) behind an httpx client, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from legato.config import Settings
from legato.server.app import create_app
from legato.server.serve import ServerOptions, open_api

TOKEN = "s3cret-token"


@pytest.fixture
async def api() -> AsyncIterator[Any]:
    async with open_api(Settings(), ServerOptions(max_body=64 * 1024)) as api:
        yield api


@pytest.fixture
async def client(api: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(api))
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        yield c


@pytest.fixture
async def guarded(api: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(api, token=TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
        yield c
