"""The real clients against the real servers: what every adapter builds on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def test_kafka_produce_consume_with_headers(kafka_bootstrap: str, unique_name: Any) -> None:
    from confluent_kafka import Consumer, Producer

    topic = unique_name("smoke")
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    producer.produce(
        topic, key=b"run-1", value=b"hello", headers=[("traceparent", b"00-abc-def-01")]
    )
    assert producer.flush(20) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": unique_name("g"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None and msg.error() is None
        assert (msg.key(), msg.value()) == (b"run-1", b"hello")
        assert msg.headers() == [("traceparent", b"00-abc-def-01")]
    finally:
        consumer.close()


def test_cassandra_prepared_write_read_and_batch(
    cassandra_session: Any, cassandra_keyspace: str
) -> None:
    from cassandra.query import BatchStatement, BatchType

    s = cassandra_session
    insert = s.prepare(
        f"INSERT INTO {cassandra_keyspace}.runs (run_id, kind, k1, k2, data) VALUES (?, ?, ?, ?, ?)"
    )
    header = s.prepare(f"UPDATE {cassandra_keyspace}.runs SET status = ? WHERE run_id = ?")
    run_id = uuid.uuid4().hex
    batch = BatchStatement(batch_type=BatchType.LOGGED)
    batch.add(header, ("running", run_id))
    batch.add(insert, (run_id, 1, "a", "", b"\x01"))
    batch.add(insert, (run_id, 2, "key", "a", b"\x02"))
    s.execute(batch)
    select = s.prepare(
        f"SELECT status, data FROM {cassandra_keyspace}.runs "
        "WHERE run_id = ? AND kind = ? AND k1 = ?"
    )
    row = s.execute(select, (run_id, 1, "a")).one()
    assert (row.status, row.data) == ("running", b"\x01")


async def test_redis_incr_and_lua(redis_url: str, unique_name: Any) -> None:
    import redis.asyncio as redis

    client = redis.from_url(redis_url)
    key = unique_name("smoke")
    try:
        assert await client.incr(key) == 1
        assert await client.incr(key) == 2
        script = client.register_script(
            "local v = redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[1]); "
            "return v"
        )
        assert await script(keys=[key], args=[60]) == 3
        assert 0 < await client.ttl(key) <= 60
    finally:
        await client.delete(key)
        await client.aclose()
