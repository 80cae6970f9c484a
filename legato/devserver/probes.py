"""Readiness: each server must answer a real request, not just accept a connection."""

from __future__ import annotations

import socket
import time
import uuid


def redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def cassandra_query(port: int) -> str | None:
    """``release_version`` from ``system.local``, or None if not answering yet."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
    from cassandra.policies import RoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy())
    cluster = Cluster(
        ["127.0.0.1"],
        port=port,
        connect_timeout=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=5,
    )
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        return str(row.release_version) if row else None
    except (NoHostAvailable, OSError, Exception):  # any failure means "not ready yet"
        return None
    finally:
        cluster.shutdown()


def kafka_roundtrip(port: int, timeout: float = 20.0) -> bool:
    """Produce one message and consume it back."""
    from confluent_kafka import Consumer, KafkaException, Producer

    bootstrap = f"127.0.0.1:{port}"
    topic = "legato.devcheck"
    token = uuid.uuid4().hex.encode()
    try:
        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "socket.timeout.ms": 5000,
                "message.timeout.ms": int(timeout * 1000),
            }
        )
        delivered: list[bool] = []
        producer.produce(topic, token, on_delivery=lambda err, msg: delivered.append(err is None))
        producer.flush(timeout)
        if delivered != [True]:
            return False
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"devcheck-{token.decode()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None and msg.value() == token:
                    return True
            return False
        finally:
            consumer.close()
    except KafkaException:
        return False
