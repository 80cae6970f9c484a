"""Kafka specifics: unacknowledged jobs come back, commits never skip an
unfinished job, and undecodable messages go to the dead-letter topic."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from legato.adapters.kafka import KafkaJobBus, apply_topics
from legato.config import KafkaSettings
from legato.schemas import Job
from tests.contract.test_jobbus import job, take

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(kafka_bootstrap: str, unique_name: Any) -> KafkaSettings:
    name = unique_name("jobs")
    s = replace(
        KafkaSettings(bootstrap=kafka_bootstrap),
        jobs_topic=name,
        commands_topic=name + ".cmd",
        deadletter_topic=name + ".dlq",
        partitions=1,
        group=unique_name("g"),
    )
    apply_topics(s)
    return s


async def test_commits_stop_at_the_lowest_unfinished_job(settings: KafkaSettings) -> None:
    bus = KafkaJobBus(settings)
    await bus.publish([job(i) for i in range(5)])
    got = await take(bus, 5)
    for d in got:
        if d.job.step_id != "s1":  # s1 never finishes: the worker dies
            await d.ack()
    await asyncio.sleep(0.5)
    await bus.close()
    again = KafkaJobBus(settings)  # same group: resumes from the committed offset
    try:
        redelivered = await take(again, 4)
        assert [d.job.step_id for d in redelivered] == ["s1", "s2", "s3", "s4"]
        for d in redelivered:
            await d.ack()
    finally:
        await again.close()


async def test_acknowledged_jobs_are_not_redelivered(settings: KafkaSettings) -> None:
    bus = KafkaJobBus(settings)
    await bus.publish([job(i) for i in range(3)])
    for d in await take(bus, 3):
        await d.ack()
    await asyncio.sleep(0.5)
    await bus.close()
    again = KafkaJobBus(settings)
    try:
        await again.publish([job(9)])
        (only,) = await take(again, 1)
        assert only.job.step_id == "s9"
    finally:
        await again.close()


async def test_malformed_message_goes_to_the_dead_letter_topic(settings: KafkaSettings) -> None:
    producer = Producer({"bootstrap.servers": settings.bootstrap})
    producer.produce(settings.jobs_topic, b"{not json", b"k")
    producer.flush(10)
    bus = KafkaJobBus(settings)
    try:
        await bus.publish([job(1)])
        (d,) = await take(bus, 1)  # the partition kept moving past the bad message
        await d.ack()
        assert d.job == job(1)
        assert bus.dead_lettered == 1
    finally:
        await bus.close()
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": "dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.deadletter_topic])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None and msg.error() is None
        assert msg.value() == b"{not json"
        headers = dict(msg.headers() or [])
        assert headers["legato.reason"].startswith(b"undecodable message:")
        assert headers["legato.topic"] == settings.jobs_topic.encode()
        assert headers["legato.offset"] == b"0"
    finally:
        consumer.close()


def test_job_wire_format_is_plain_json() -> None:
    import msgspec

    raw = msgspec.json.encode(Job("r1", "a", "a", "bp", "1"))
    assert msgspec.json.decode(raw) == {
        "run_id": "r1",
        "step_id": "a",
        "node": "a",
        "blueprint": "bp",
        "version": "1",
    }
