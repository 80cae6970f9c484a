"""The JobBus on Kafka (confluent-kafka).

Jobs go to the jobs topic keyed by ``run_id`` (one run's jobs keep their
order per partition), JSON-encoded, from an idempotent producer with
``acks=all``. Latency settings: ``linger.ms=1`` (a publish batches what the
same step emits, without waiting), ``fetch.wait.max.ms=10`` and
``fetch.min.bytes=1`` (a consumer gets a job as soon as it is written).

One thread per bus owns the consumer: it fetches, hands messages to the event
loop, and commits. Many jobs run at once; per partition only the offset of the
lowest unfinished job is committed (``PartitionOffsets``), so a crash
redelivers unfinished jobs and never skips one. ``max_in_flight`` bounds the
jobs handed out and not yet acknowledged (backpressure). Rebalancing is
cooperative; when a partition is revoked, what is finished is committed and
acknowledgements still to come for it are ignored (the new owner redelivers
those jobs, and jobs are idempotent). A message that cannot be decoded goes to
the dead-letter topic with the reason in its headers, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from legato.adapters.kafka.offsets import PartitionOffsets
from legato.config import KafkaSettings
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.tracing import carrier
from legato.schemas import Job

log = logging.getLogger("legato.kafka")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Job).decode
JOB_FORMAT = b"legato.job/1"


@dataclass(frozen=True, slots=True)
class KafkaDelivery:
    job: Any  # a Job on the jobs topic; a Command on the commands topic
    partition: int
    offset: int
    bus: KafkaJobBus
    generation: int
    headers: dict[str, str] | None = None

    async def ack(self) -> None:
        self.bus._ack(self.partition, self.offset, self.generation)


class KafkaJobBus:
    """Jobs on a Kafka topic; see the module docstring for the guarantees."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str | None = None,
        group: str | None = None,
        max_in_flight: int = 512,
        decode: Callable[[bytes], Any] = _decode,
    ) -> None:
        self.settings = settings
        self.topic = topic or settings.jobs_topic
        self.group = group or settings.group
        self.max_in_flight = max_in_flight
        self._decode = decode
        self.dead_lettered = 0
        self._producer = Producer(
            {
                **settings.client_config(),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 1,
                "message.timeout.ms": 30000,
            }
        )
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._poller = threading.Thread(
            target=self._poll_producer, daemon=True, name="legato-kafka-producer"
        )
        self._poller.start()
        self._lock = threading.Lock()
        self._offsets: dict[int, PartitionOffsets] = {}
        self._generation: dict[int, int] = {}
        self._slots = threading.Semaphore(max_in_flight)
        self._consumer_thread: threading.Thread | None = None
        self._queue: asyncio.Queue[KafkaDelivery | None] | None = None

    # -- producing -----------------------------------------------------------------------

    def _poll_producer(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def publish(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in jobs]

        def callback(fut: asyncio.Future[None]) -> Any:
            def done(err: KafkaError | None, msg: Message) -> None:
                if err is None:
                    loop.call_soon_threadsafe(_resolve, fut, None)
                else:
                    loop.call_soon_threadsafe(
                        _resolve,
                        fut,
                        BackendUnavailableError(f"Kafka: publishing to {self.topic} failed: {err}"),
                    )

            return done

        headers: list[tuple[str, bytes]] = [("format", JOB_FORMAT)]
        trace_headers = carrier()
        if trace_headers:
            headers += [(k, v.encode()) for k, v in trace_headers.items()]
        for job, fut in zip(jobs, futures, strict=True):
            self._produce(self.topic, _encode(job), job.run_id.encode(), headers, callback(fut))
        await asyncio.gather(*futures)

    def _produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
        on_delivery: Any,
    ) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                time.sleep(0.01)  # the local queue is full: let the poller drain it
            except KafkaException as exc:
                raise BackendUnavailableError(f"Kafka: {exc}") from exc

    # -- consuming -----------------------------------------------------------------------

    async def consume(self) -> AsyncIterator[KafkaDelivery]:  # type: ignore[override]
        """Deliveries from this bus's consumer (started on first use, shared by callers)."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            self._consumer_thread = threading.Thread(
                target=self._consume_loop,
                args=(loop, self._queue),
                daemon=True,
                name="legato-kafka-consumer",
            )
            self._consumer_thread.start()
        queue = self._queue
        while True:
            item = await queue.get()
            if item is None:
                queue.put_nowait(None)
                return
            yield item

    def _consumer_config(self) -> dict[str, Any]:
        return {
            **self.settings.client_config(),
            "group.id": self.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "fetch.wait.max.ms": 10,
            "fetch.min.bytes": 1,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300000,
        }

    def _consume_loop(
        self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[KafkaDelivery | None]
    ) -> None:
        consumer = Consumer(self._consumer_config())
        consumer.subscribe(
            [self.topic],
            on_assign=self._assigned,
            on_revoke=lambda c, parts: self._revoked(c, parts),
            on_lost=lambda c, parts: self._revoked(c, parts, lost=True),
        )
        try:
            while not self._stop.is_set():
                if self._paused.is_set():
                    self._commit(consumer)
                    time.sleep(0.05)
                    continue
                if not self._slots.acquire(timeout=0.1):
                    self._commit(consumer)
                    continue
                self._slots.release()
                batch_size = min(100, max(1, self.max_in_flight))
                try:
                    # consume() waits for a full batch or its timeout: poll one message
                    # with a timeout, then take whatever else is already fetched.
                    first = consumer.poll(0.05)
                    messages = [first] if first is not None else []
                    if first is not None and batch_size > 1:
                        messages += consumer.consume(batch_size - 1, timeout=0)
                except KafkaException as exc:
                    log.warning("Kafka consume failed, retrying: %s", exc)
                    time.sleep(0.5)
                    continue
                for msg in messages:
                    self._handle(msg, consumer, loop, queue)
                self._commit(consumer)
        finally:
            self._commit(consumer)
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            loop.call_soon_threadsafe(queue.put_nowait, None)

    def _handle(
        self,
        msg: Message,
        consumer: Consumer,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[KafkaDelivery | None],
    ) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("Kafka consumer error: %s", err)
            return
        partition, offset = msg.partition(), msg.offset()
        with self._lock:
            tracker = self._offsets.setdefault(partition, PartitionOffsets())
            tracker.started(offset)
            generation = self._generation.get(partition, 0)
        try:
            job = self._decode(msg.value() or b"")
        except msgspec.DecodeError as exc:
            self._dead_letter(msg, f"undecodable message: {exc}")
            with self._lock:
                tracker.finished(offset)
            return
        self._slots.acquire()
        loop.call_soon_threadsafe(
            queue.put_nowait,
            KafkaDelivery(job, partition, offset, self, generation, _trace_headers(msg)),
        )

    def _dead_letter(self, msg: Message, reason: str) -> None:
        headers = [
            ("legato.reason", reason.encode()),
            ("legato.topic", (msg.topic() or "").encode()),
            ("legato.partition", str(msg.partition()).encode()),
            ("legato.offset", str(msg.offset()).encode()),
        ]
        self._produce(self.settings.deadletter_topic, msg.value() or b"", msg.key(), headers, None)
        self._producer.flush(10)
        self.dead_lettered += 1
        log.error("dead-lettered %s[%s]@%s: %s", msg.topic(), msg.partition(), msg.offset(), reason)

    def _ack(self, partition: int, offset: int, generation: int) -> None:
        with self._lock:
            tracker = self._offsets.get(partition)
            if tracker is not None and self._generation.get(partition, 0) == generation:
                tracker.finished(offset)
        self._slots.release()

    def _commit(self, consumer: Consumer) -> None:
        with self._lock:
            ready = [(p, t.committable()) for p, t in self._offsets.items()]
        todo = [TopicPartition(self.topic, p, off) for p, off in ready if off is not None]
        if not todo:
            return
        try:
            consumer.commit(offsets=todo, asynchronous=False)
        except KafkaException as exc:
            log.warning("Kafka commit failed (will retry): %s", exc)
            return
        with self._lock:
            for tp in todo:
                if tp.partition in self._offsets:
                    self._offsets[tp.partition].committed = tp.offset

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self._lock:
            for tp in partitions:
                self._offsets.pop(tp.partition, None)

    def _revoked(
        self, consumer: Consumer, partitions: list[TopicPartition], lost: bool = False
    ) -> None:
        if not lost:
            self._commit(consumer)
        with self._lock:
            for tp in partitions:
                self._offsets.pop(tp.partition, None)
                self._generation[tp.partition] = self._generation.get(tp.partition, 0) + 1

    def pause(self) -> None:
        """Stop fetching new jobs; acknowledgements are still committed (for draining)."""
        self._paused.set()

    def in_flight(self) -> int:
        with self._lock:
            return sum(t.in_flight() for t in self._offsets.values())

    async def close(self) -> None:
        self._stop.set()
        loop = asyncio.get_running_loop()
        if self._consumer_thread is not None:
            await loop.run_in_executor(None, self._consumer_thread.join, 30)
        await loop.run_in_executor(None, self._producer.flush, 10)
        await loop.run_in_executor(None, self._poller.join, 5)


def _trace_headers(msg: Message) -> dict[str, str] | None:
    found = {
        k: v.decode("latin-1")
        for k, v in (msg.headers() or ())
        if k in ("traceparent", "tracestate") and v is not None
    }
    return found or None


def _resolve(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
