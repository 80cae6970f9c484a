"""Worker probes: /healthz while alive, /readyz only when every server answers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from legato.distributed import Distributed
from legato.runtime.engine import Backend
from legato.worker import Readiness, serve_health


class Host:
    def __init__(self, up: bool) -> None:
        self.is_up = up


def fake(kafka_ok: bool, redis_ok: bool, cassandra_ok: bool) -> Distributed:
    def list_topics(**_: Any) -> None:
        if not kafka_ok:
            raise RuntimeError("broker transport failure")

    async def ping() -> bool:
        if not redis_ok:
            raise ConnectionError("connection refused")
        return True

    bus = SimpleNamespace(_producer=SimpleNamespace(list_topics=list_topics), topic="t")
    coordinator = SimpleNamespace(client=SimpleNamespace(ping=ping))
    cluster = SimpleNamespace(metadata=SimpleNamespace(all_hosts=lambda: [Host(cassandra_ok)]))
    backend = Backend(None, None, coordinator, bus, None)  # type: ignore[arg-type]
    return Distributed(backend, cluster)


async def test_probe_names_every_server_that_does_not_answer() -> None:
    assert await fake(True, True, True).probe() == {}
    assert await fake(False, False, False).probe() == {
        "kafka": "RuntimeError: broker transport failure",
        "redis": "ConnectionError: connection refused",
        "cassandra": "no Cassandra host is up",
    }
    assert list(await fake(True, False, True).probe()) == ["redis"]


async def get(port: int, path: str) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = (await reader.read()).decode()
    writer.close()
    head, _, body = raw.partition("\r\n\r\n")
    return head.split("\r\n")[0], body


async def test_readyz_follows_the_servers_and_draining() -> None:
    readiness = Readiness(interval=0.0)
    server = await serve_health(0, readiness)
    port = server.sockets[0].getsockname()[1]
    try:
        assert await get(port, "/healthz") == ("HTTP/1.1 200 OK", "ok")
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: connecting to the servers",
        )
        readiness.dist = fake(True, True, True)
        assert await get(port, "/readyz") == ("HTTP/1.1 200 OK", "ready")
        readiness.dist = fake(True, True, False)
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: cassandra: no Cassandra host is up",
        )
        readiness.dist = fake(True, True, True)
        readiness.draining = True
        assert await get(port, "/readyz") == (
            "HTTP/1.1 503 Service Unavailable",
            "not ready: draining",
        )
        assert (await get(port, "/nope"))[0] == "HTTP/1.1 404 Not Found"
    finally:
        server.close()
        await server.wait_closed()
