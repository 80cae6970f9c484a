"""Worker probes: /healthz while alive; /readyz while this worker consumes (a shared
server being down is reported by /status, never by readiness); /status names every
server that does not answer."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import legato.testing
from legato.worker import Readiness, serve_health


class Down:
    """A port whose server does not answer."""

    def __init__(self, why: str) -> None:
        self.why = why

    async def probe(self) -> str | None:
        return self.why

    async def close(self) -> None:
        return None


def backend(kafka: bool = True, redis: bool = True, cassandra: bool = True) -> legato.Backend:
    base = legato.testing.backend()
    parts = {}
    if not kafka:
        parts["bus"] = Down("Kafka: broker transport failure")
    if not redis:
        parts["coordinator"] = Down("Redis: ConnectionError: connection refused")
    if not cassandra:
        parts["store"] = Down("Cassandra: no host is up")
    return dataclasses.replace(base, **parts)  # type: ignore[arg-type]


async def test_probe_names_every_part_that_does_not_answer() -> None:
    assert await backend().probe() == {}
    assert await backend(False, False, False).probe() == {
        "bus": "Kafka: broker transport failure",
        "coordinator": "Redis: ConnectionError: connection refused",
        "store": "Cassandra: no host is up",
    }
    assert list(await backend(True, False, True).probe()) == ["coordinator"]


async def get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = (await reader.read()).decode()
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    return head.split("\r\n")[0], body


async def test_readyz_follows_this_worker_and_status_the_servers() -> None:
    readiness = Readiness(interval=0.0)
    server = await serve_health(0, readiness, status=readiness.status, host="127.0.0.1")
    port = server.sockets[0].getsockname()[1]
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stopped.set_result(None)
    try:
        assert await get(port, "/healthz") == ("HTTP/1.1 200 OK", "ok")
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: connecting to the servers",
        )
        readiness.backend = backend()
        assert await get(port, "/readyz") == ("HTTP/1.1 200 OK", "ready")
        readiness.backend = backend(cassandra=False)  # a shared outage: still ready
        assert await get(port, "/readyz") == ("HTTP/1.1 200 OK", "ready")
        code, body = await get(port, "/status")
        assert code == "HTTP/1.1 200 OK"
        assert json.loads(body)["servers"]["store"] == "Cassandra: no host is up"
        readiness.tasks["commands"] = asyncio.ensure_future(stopped)
        await asyncio.sleep(0)
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: the commands consumer stopped",
        )
        readiness.tasks.clear()
        readiness.draining = True
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: draining",
        )
        assert (await get(port, "/nope"))[0] == "HTTP/1.1 404 Not Found"
    finally:
        server.close()
        await server.wait_closed()
