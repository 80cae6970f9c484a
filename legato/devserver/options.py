"""Where the local servers live and which ports they use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from legato.runtime.errors import LegatoError

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.24.3"
CASSANDRA_VERSION = "5.0.8"


class DevServerError(LegatoError):
    """A local server could not be provisioned, started or stopped; says why and where."""


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class DevOptions:
    """Ports, heap sizes and folders of the local development servers."""

    data_dir: Path = _cache_home() / "legato" / "dev"
    jar_dir: Path = _cache_home() / "legato" / "jars"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    cassandra_port: int = 9042
    cassandra_storage_port: int = 7000
    cassandra_heap: str = "1g"
    redis_port: int = 6379
    start_timeout: float = 180.0

    def server_dir(self, name: str) -> Path:
        return self.data_dir / name
