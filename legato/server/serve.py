"""Running the API server: embedded (an engine in this process, the one-command
demo) or against a deployment (run control only; the workers run the steps)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import uvicorn

from legato.adapters.settings import Settings
from legato.runtime.errors import ConfigError
from legato.runtime.registry import Registry
from legato.server.app import Api, create_app
from legato.server.security import DEFAULT_MAX_BODY

log = logging.getLogger("legato.server")


class _Server(uvicorn.Server):
    """uvicorn's server, stopped by this process' own signal handlers (uvicorn's own
    re-raise SIGTERM once stopped, so the process would not exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    insecure: bool = False
    max_body: int = DEFAULT_MAX_BODY
    concurrency: int = 16  # embedded: jobs the in-process worker handles at once


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_binding(options: ServerOptions) -> None:
    """Refuse to serve a non-loopback address without a token, unless ``insecure``."""
    if options.token is None and not options.insecure and not is_loopback(options.host):
        raise ConfigError(
            f"refusing to serve {options.host} without a token: anyone who reaches it could "
            "start and cancel runs. Set --token (or LEGATO_API_TOKEN), bind 127.0.0.1, "
            "or pass --insecure"
        )


@contextlib.asynccontextmanager
async def open_api(settings: Settings, options: ServerOptions) -> AsyncIterator[Api]:
    """The ``Api`` of ``settings``' deployment, or of an embedded engine (with a worker
    and its heartbeats) when nothing is configured."""
    if settings.distributed:
        from legato.adapters.kafka.lag import GroupLag
        from legato.client import Client

        assert settings.kafka is not None
        lag = GroupLag(settings.kafka)
        async with await Client.connect(settings) as client:
            try:
                yield Api(client.control, lag=lag, max_body=options.max_body)
            finally:
                lag.close()
        return
    from legato import Engine
    from legato.presence import Presence
    from legato.runtime.nodes import default_catalog

    async with Engine(concurrency=options.concurrency) as engine:
        engine.start_workers()
        presence = Presence(engine.backend.coordinator, engine.worker, ("embedded",))
        presence.start()
        try:
            yield Api(engine.control, max_body=options.max_body, catalog=default_catalog)
        finally:
            await presence.stop()


async def serve(
    settings: Settings, options: ServerOptions, blueprints: Sequence[Registry] = ()
) -> int:
    """Register ``blueprints``, then serve until SIGINT/SIGTERM; 0 on a clean stop."""
    check_binding(options)
    async with open_api(settings, options) as api:
        for registry in blueprints:
            await api.control.backend.blueprints.put_blueprint(registry.blueprint)
            api.control.registries.add(registry)
        app = create_app(api, token=options.token)
        config = uvicorn.Config(
            app, host=options.host, port=options.port, lifespan="off", log_level="info"
        )
        server = _Server(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, server.stop)
        mode = "deployment" if settings.distributed else "embedded engine"
        log.info("serving %s on http://%s:%d/", mode, options.host, options.port)
        await server.serve()
    return 0

