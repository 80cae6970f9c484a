"""Which servers a load uses, and worker processes on them.

With ``--config``/``LEGATO_*`` settings the load runs on that cluster (schema and
topics applied already, as for any deployment). Otherwise it uses the
``legato dev`` servers with a fresh keyspace, topic names and consumer group, so
that nothing left over from an earlier load is consumed or counted.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from legato.config import ENV_CONFIG, KafkaSettings, Settings, settings_from_cli

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    settings: Settings
    env: dict[str, str]  # what a worker process needs to reach the same servers
    fresh: str | None = None  # the fresh keyspace/topic name on the dev servers
    procs: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)

    def servers(self) -> dict[str, Any]:
        """``host:port`` (Redis: its URL) of each server, for the Flowcraft peer."""
        s = self.settings
        assert s.kafka and s.cassandra and s.redis
        return {
            "kafka": s.kafka.bootstrap,
            "cassandra": f"{s.cassandra.hosts[0]}:{s.cassandra.port}",
            "redis": s.redis.url,
        }


def connect_settings(args: argparse.Namespace, partitions: int = 6) -> Cluster:
    settings = settings_from_cli(args, os.environ)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    if settings.distributed:
        if getattr(args, "config", None):
            env[ENV_CONFIG] = str(Path(args.config).resolve())
        return Cluster(settings, env)
    from legato import migrations
    from legato.adapters.cassandra import connect as cassandra_connect
    from legato.adapters.kafka import apply_topics

    name = f"load_{uuid.uuid4().hex[:8]}"
    kafka = replace(
        KafkaSettings(),
        jobs_topic=f"{name}.jobs",
        commands_topic=f"{name}.cmd",
        deadletter_topic=f"{name}.dlq",
        group=name,
        partitions=partitions,
    )
    cassandra_url = f"cassandra://127.0.0.1:9042/{name}"
    settings = replace(
        Settings.from_urls(None, cassandra_url, "redis://127.0.0.1:6379/0"), kafka=kafka
    )
    apply_topics(kafka)
    cluster, session = cassandra_connect(settings.cassandra)  # type: ignore[arg-type]
    try:
        migrations.apply(session, name)
    finally:
        cluster.shutdown()
    env.update(
        LEGATO_KAFKA=f"kafka://{kafka.bootstrap}?jobs_topic={kafka.jobs_topic}"
        f"&commands_topic={kafka.commands_topic}&deadletter_topic={kafka.deadletter_topic}"
        f"&group={name}&partitions={partitions}",
        LEGATO_CASSANDRA=cassandra_url,
        LEGATO_REDIS="redis://127.0.0.1:6379/0",
    )
    env.pop(ENV_CONFIG, None)
    return Cluster(settings, env, fresh=name)


def drop_fresh(cluster: Cluster) -> None:
    """Drop the fresh keyspace and topics (dev servers only)."""
    if cluster.fresh is None:
        return
    from confluent_kafka.admin import AdminClient

    from legato.adapters.cassandra import connect as cassandra_connect

    c, session = cassandra_connect(cluster.settings.cassandra)  # type: ignore[arg-type]
    try:
        session.execute(f"DROP KEYSPACE IF EXISTS {cluster.fresh}", timeout=60)
    except Exception as exc:  # a slow drop must not hide the report
        print(f"(could not drop keyspace {cluster.fresh}: {exc})", file=sys.stderr)
    finally:
        c.shutdown()
    kafka = cluster.settings.kafka
    assert kafka is not None
    admin = AdminClient({"log_level": 0, **kafka.client_config()})
    for fut in admin.delete_topics(list(kafka.topic_partitions()), operation_timeout=30).values():
        try:
            fut.result(30)
        except Exception:  # leftover topics are harmless: names are fresh
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_workers(
    cluster: Cluster, count: int, concurrency: int, logs: Path, timeout: float = 90
) -> None:
    """Start ``count`` ``legato worker`` processes and wait until each is ready."""
    logs.mkdir(parents=True, exist_ok=True)
    ports = []
    for i in range(count):
        port = free_port()
        log = (logs / f"worker{i}.log").open("wb")
        cmd = [sys.executable, "-m", "legato", "worker", "--import", "bench.loadkit.shapes"]
        cmd += ["--concurrency", str(concurrency), "--health-port", str(port)]
        proc = subprocess.Popen(cmd, env=cluster.env, cwd=ROOT, stdout=log, stderr=log)
        cluster.procs.append((proc, log))
        ports.append(port)
    deadline = time.monotonic() + timeout
    while not all(_ready(p) for p in ports):
        for proc, _ in cluster.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited with {proc.returncode}; see {logs}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {timeout:.0f}s; see {logs}")
        time.sleep(0.2)


def stop_workers(cluster: Cluster, timeout: float = 20) -> None:
    """SIGTERM each worker (they drain), then kill what is left."""
    for proc, _ in cluster.procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc, log in cluster.procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    cluster.procs.clear()
