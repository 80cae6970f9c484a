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
from legato.testing.contract.jobbus import job, take

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


def read_dead_letters(settings: KafkaSettings, n: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": "dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([settings.deadletter_topic])
    got: list[Any] = []
    try:
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg)
                if len(got) == n:
                    break
    finally:
        consumer.close()
    return got


async def test_a_job_of_an_unknown_format_goes_to_the_dead_letter_topic(
    settings: KafkaSettings,
) -> None:
    import msgspec

    producer = Producer({"bootstrap.servers": settings.bootstrap})
    raw = msgspec.json.encode(job(0))  # decodable, but announced as a format we do not read
    producer.produce(settings.jobs_topic, raw, b"k", headers=[("format", b"legato.job/99")])
    producer.flush(10)
    bus = KafkaJobBus(settings)
    try:
        await bus.publish([job(1)])
        (d,) = await take(bus, 1)
        await d.ack()
        assert d.job == job(1)
    finally:
        await bus.close()
    (msg,) = read_dead_letters(settings, 1)
    headers = dict(msg.headers() or [])
    assert msg.value() == raw
    assert headers["legato.reason"] == (
        b"unsupported format 'legato.job/99' (this worker reads 'legato.job/1')"
    )
    assert headers["legato.partition"] == b"0" and headers["legato.offset"] == b"0"


async def test_published_jobs_carry_their_format_header(settings: KafkaSettings) -> None:
    bus = KafkaJobBus(settings)
    try:
        await bus.publish([job(1)])
        (d,) = await take(bus, 1)
        await d.ack()
    finally:
        await bus.close()
    raw = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": "raw",
            "auto.offset.reset": "earliest",
        }
    )
    raw.subscribe([settings.jobs_topic])
    try:
        msg = None
        for _ in range(60):
            msg = raw.poll(0.5)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None and msg.error() is None
        assert dict(msg.headers() or [])["format"] == b"legato.job/1"
    finally:
        raw.close()


async def test_at_most_max_in_flight_jobs_are_handed_out(settings: KafkaSettings) -> None:
    bus = KafkaJobBus(settings, max_in_flight=2)
    got: list[Any] = []
    arrived = asyncio.Event()

    async def collect() -> None:
        async for d in bus.consume():
            got.append(d)
            arrived.set()

    task = asyncio.create_task(collect())
    try:
        await bus.publish([job(i) for i in range(6)])
        while len(got) < 2:
            await asyncio.wait_for(arrived.wait(), 20)
            arrived.clear()
        await asyncio.sleep(0.5)  # time for a (wrong) third delivery to show up
        assert [d.job.step_id for d in got] == ["s0", "s1"]
        assert bus.in_flight() == 2
        await got[0].ack()
        await got[0].ack()  # acknowledging twice frees one slot: exactly one more job comes
        while len(got) < 3:
            await asyncio.wait_for(arrived.wait(), 20)
            arrived.clear()
        await asyncio.sleep(0.5)
        assert [d.job.step_id for d in got] == ["s0", "s1", "s2"]
        for d in got[1:]:
            await d.ack()
        while len(got) < 6:
            await asyncio.wait_for(arrived.wait(), 20)
            arrived.clear()
            for d in got[3:]:
                await d.ack()
        assert bus.in_flight() == 0
        assert [d.job.step_id for d in got] == [f"s{i}" for i in range(6)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()


def committed(settings: KafkaSettings, partitions: list[int]) -> dict[int, int]:
    """The group's committed offsets (-1001: none) of the jobs topic's ``partitions``."""
    from confluent_kafka import TopicPartition

    reader = Consumer({"bootstrap.servers": settings.bootstrap, "group.id": settings.group})
    try:
        tps = [TopicPartition(settings.jobs_topic, p) for p in partitions]
        return {tp.partition: tp.offset for tp in reader.committed(tps, timeout=10)}
    finally:
        reader.close()


async def test_revoked_partitions_are_redelivered_by_their_new_owner(
    kafka_bootstrap: str, unique_name: Any
) -> None:
    name = unique_name("jobs")
    settings = replace(
        KafkaSettings(bootstrap=kafka_bootstrap),
        jobs_topic=name,
        deadletter_topic=name + ".dlq",
        partitions=3,
        group=unique_name("g"),
    )
    apply_topics(settings)
    jobs = [job(i, run=f"run{i}") for i in range(30)]  # spread over the 3 partitions
    first = KafkaJobBus(settings)
    second = KafkaJobBus(settings)
    moved: list[Any] = []

    async def collect() -> None:
        async for d in second.consume():
            moved.append(d)

    task = None
    try:
        await first.publish(jobs)
        held = await take(first, 30)  # everything, acknowledged by nobody yet
        task = asyncio.create_task(collect())  # a second member joins the group

        def settled() -> bool:  # the second member owns some partitions and got their jobs
            mine = second._owned
            expected = {d.job for d in held if d.partition in mine}
            return bool(mine) and not (mine & first._owned) and {d.job for d in moved} == expected

        for _ in range(300):
            if settled():
                break
            await asyncio.sleep(0.1)
        assert settled()
        for d in held:  # too late for the moved partitions: must not be committed
            await d.ack()
        await first.close()
        lowest = {p: min(d.offset for d in moved if d.partition == p) for p in second._owned}
        for p, off in committed(settings, sorted(lowest)).items():
            assert off in (lowest[p], -1001)  # the new owner's commit (or none), never past it
    finally:
        await first.close()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await second.close()
    third = KafkaJobBus(settings)  # only what the second member never acknowledged comes back
    try:
        again = await take(third, len(moved))
        assert {d.job for d in again} == {d.job for d in moved}
    finally:
        await third.close()
