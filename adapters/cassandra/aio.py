"""cassandra-driver futures as asyncio awaitables; driver errors become Legato's."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from cassandra import CoordinationFailure, OperationTimedOut, Timeout, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage

from legato.runtime.errors import BackendUnavailableError

# Transient: the cluster (or enough replicas) cannot answer now. ``Timeout`` covers
# read and write timeouts, including a lightweight transaction whose outcome is
# unknown: callers retry, and first-wins conditions make the retry safe.
_UNAVAILABLE = (
    NoHostAvailable,
    OperationTimedOut,
    Unavailable,
    Timeout,
    CoordinationFailure,
    ConnectionException,
    OverloadedErrorMessage,
    IsBootstrappingErrorMessage,
    ConnectionError,
)


_KEYSPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


def check_keyspace(name: str) -> str:
    """``name`` if it is a valid keyspace name (it is pasted into CQL text)."""
    if not _KEYSPACE.match(name):
        raise ValueError(f"invalid keyspace name {name!r}")
    return name


async def prepare_all(session: Any, cql: dict[str, str]) -> dict[str, Any]:
    """Prepare statements by name in a thread (the driver's ``prepare`` blocks)."""

    def prepare() -> dict[str, Any]:
        return {name: session.prepare(text) for name, text in cql.items()}

    try:
        return await asyncio.get_running_loop().run_in_executor(None, prepare)
    except _UNAVAILABLE as exc:
        raise BackendUnavailableError(f"Cassandra: {exc}") from exc


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
