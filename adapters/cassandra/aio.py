"""cassandra-driver futures as asyncio awaitables; driver errors become Legato's."""

from __future__ import annotations

import asyncio
from typing import Any

from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable

from legato.runtime.errors import BackendUnavailableError

_UNAVAILABLE = (
    NoHostAvailable,
    OperationTimedOut,
    Unavailable,
    ReadTimeout,
    WriteTimeout,
    ConnectionError,
)


async def execute(session: Any, statement: Any, params: Any = None) -> list[Any]:
    """Run a statement without blocking the event loop; returns every row (all pages)."""
    loop = asyncio.get_running_loop()
    rows: list[Any] = []
    done: asyncio.Future[None] = loop.create_future()
    try:
        future = session.execute_async(statement, params)
    except _UNAVAILABLE as exc:
        raise BackendUnavailableError(f"Cassandra: {exc}") from exc

    def on_rows(page: Any) -> None:
        if page:
            rows.extend(page)
        if future.has_more_pages:
            future.start_fetching_next_page()
        else:
            loop.call_soon_threadsafe(_set, done, None)

    def on_error(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_fail, done, exc)

    future.add_callbacks(on_rows, on_error)
    try:
        await done
    except _UNAVAILABLE as exc:
        raise BackendUnavailableError(f"Cassandra: {exc}") from exc
    return rows


def _set(fut: asyncio.Future[None], value: None) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future[None], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
