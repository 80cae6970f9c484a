"""The JobBus on Kafka (confluent-kafka).

Producing: jobs go to the jobs topic keyed by ``run_id``, JSON-encoded with a
``format: legato.job/1`` header (and the W3C ``traceparent``/``tracestate`` of
the current span, when there is one), from an idempotent producer with
``acks=all``. ``publish`` returns once every job is acknowledged by the
brokers; a thread polls delivery reports, so the event loop never blocks.

Consuming: one thread per bus owns the consumer; it fetches, hands jobs to the
event loop, and commits. Many jobs run at once. Per partition only the offset
of the lowest unfinished job is committed (``PartitionOffsets``), so a crash
redelivers every unfinished job and never skips one (jobs finished after it
run again: they are idempotent). ``max_in_flight`` bounds the jobs handed out
and not yet acknowledged: at the bound the bus pauses its partitions and keeps
polling (group membership and rebalances go on), and resumes when jobs finish.

Rebalancing is cooperative (``cooperative-sticky``): only the partitions that
move stop. On revocation the finished prefix is committed and the partition's
tracking dropped; acknowledgements still to come for it are ignored, and a
message already fetched from it is not handed out, so the new owner starts
from that commit and redelivers the rest. Ordering: jobs of one run share a
partition and are *fetched* in order, but run concurrently, so neither order
of completion nor single delivery across a rebalance is promised; the runtime
relies on neither (completion records and join state are idempotent).

A message that cannot be decoded, or carries a ``format`` header this bus does
not read, goes to the dead-letter topic with ``legato.reason``,
``legato.topic``, ``legato.partition`` and ``legato.offset`` headers, and is
then acknowledged so the partition keeps moving. If the dead-letter write
fails, the message stays unacknowledged (the commit stops before it and a
restart retries it): it is never dropped.

Latency settings: ``linger.ms=1`` (a step's successors go out in one batch
without waiting), ``fetch.wait.max.ms=10`` and ``fetch.min.bytes=1`` (a fetch
returns as soon as one job is written). The consumer thread blocks in
``poll(0.05)`` (woken by the first message), then takes what else is fetched
without waiting. Measured with ``python bench/distributed.py --runs 1 --nodes
200 --shape chain`` on the 2-core dev machine: a blocking poll in the thread
gives hop p50 7.1-7.4 ms and 95-97 steps/s; non-blocking ``poll(0)`` with 5 ms
sleeps gives p50 10-12 ms and 65 steps/s. Commits are asynchronous while
consuming (no broker round trip between two fetches; on localhost the
difference from synchronous commits is within noise) and synchronous on
revocation and close.
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
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from legato.adapters.kafka.deadletter import (
    FORMAT_HEADER,
    dead_letter,
    dead_letter_value,
    format_problem,
)
from legato.adapters.kafka.offsets import PartitionOffsets
from legato.adapters.kafka.settings import KafkaSettings
from legato.runtime import metrics
from legato.runtime.errors import BackendUnavailableError
from legato.runtime.tracing import carrier
from legato.schemas import Job

log = logging.getLogger("legato.kafka")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Job).decode
JOB_FORMAT = b"legato.job/1"
CONSUMER_LATENCY = {"fetch.wait.max.ms": 10, "fetch.min.bytes": 1}
PRODUCER_LATENCY = {"linger.ms": 1}
LAG_INTERVAL = 1.0  # seconds between two consumer lag measurements
# Finished offsets are committed (asynchronously) at most this often: a commit per
# poll would be a request to the group coordinator per job at light load. A crash
# redelivers at most this much more, which jobs tolerate.
COMMIT_INTERVAL = 0.2


@dataclass(slots=True)
class KafkaDelivery:
    job: Any  # a Job on the jobs topic; a Command on the commands topic
    partition: int
    offset: int
    bus: KafkaJobBus
    generation: int
    headers: dict[str, str] | None = None
    acked: bool = False
    raw: bytes = b""  # the message's value, for dead-lettering after decoding
    published_at: float | None = None  # the message's timestamp (produce time), if any

    async def ack(self) -> None:
        """Mark the job finished (idempotent); its offset is committed once every
        earlier job of the partition is finished too."""
        if not self.acked:
            self.acked = True
            self.bus._ack(self.partition, self.offset, self.generation)


class KafkaJobBus:
    """Jobs on a Kafka topic; see the module docstring for the guarantees.

    Args:
        settings: brokers, topic names, consumer group.
        topic: the topic to use instead of ``settings.jobs_topic``.
        group: the consumer group instead of ``settings.group``.
        max_in_flight: jobs handed out and not yet acknowledged, at most.
        decode: bytes to the delivered object (raises ``msgspec.DecodeError``).
        format: the ``format`` header this bus writes and reads (None: none).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str | None = None,
        group: str | None = None,
        max_in_flight: int = 512,
        decode: Callable[[bytes], Any] = _decode,
        format: bytes | None = JOB_FORMAT,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.settings = settings
        self.topic = topic or settings.jobs_topic
        self.group = group or settings.group
        self.max_in_flight = max_in_flight
        self._decode = decode
        self._format = format
        self.dead_lettered = 0
        self._producer = Producer(
            {
                **settings.client_config(),
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 30000,
                **PRODUCER_LATENCY,
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
        self._owned: set[int] = set()
        self._outstanding = 0
        self._throttled = False
        self._lag: dict[int, int] = {}
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
                error = None
                if err is not None:
                    error = BackendUnavailableError(
                        f"Kafka: publishing to {self.topic} failed: {err}"
                    )
                loop.call_soon_threadsafe(_resolve, fut, error)

            return done

        headers: list[tuple[str, str | bytes | None]] = []
        if self._format is not None:
            headers.append((FORMAT_HEADER, self._format))
        trace_headers = carrier()
        if trace_headers:
            headers += [(k, v.encode()) for k, v in trace_headers.items()]
        for job, fut in zip(jobs, futures, strict=True):
            value, key = _encode(job), job.run_id.encode()
            while not self._produce(self.topic, value, key, headers, callback(fut)):  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the local queue is full: the poller drains it
        await asyncio.gather(*futures)

    def _produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, str | bytes | None]],
        on_delivery: Any,
    ) -> bool:
        """Enqueue one message; False if the local queue is full (try again soon)."""
        try:
            self._producer.produce(topic, value, key, headers=headers, on_delivery=on_delivery)
            return True
        except BufferError:
            return False
        except KafkaException as exc:
            raise BackendUnavailableError(f"Kafka: {exc}") from exc

    # -- consuming -----------------------------------------------------------------------

    async def consume(self) -> AsyncIterator[KafkaDelivery]:
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
            metrics.watch_lag(self)
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
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 300000,
            "on_commit": _commit_result,
            **CONSUMER_LATENCY,
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
        lag_due = commit_due = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= lag_due:
                    self._measure_lag(consumer)
                    lag_due = time.monotonic() + LAG_INTERVAL
                with self._lock:
                    free = self.max_in_flight - self._outstanding
                try:
                    self._throttle(consumer, self._paused.is_set() or free <= 0)
                    # consume(n, timeout) waits for a full batch or its timeout: poll one
                    # message with a timeout, then take whatever else is already fetched.
                    first = consumer.poll(0.05)
                    messages = [first] if first is not None else []
                    if first is not None and free > 1:
                        messages += consumer.consume(min(100, free - 1), timeout=0)
                except KafkaException as exc:
                    log.warning("Kafka consume failed, retrying: %s", exc)
                    time.sleep(0.5)
                    continue
                for msg in messages:
                    self._handle(msg, loop, queue)
                if time.monotonic() >= commit_due:
                    self._commit(consumer, synchronous=False)
                    commit_due = time.monotonic() + COMMIT_INTERVAL
        finally:
            self._commit(consumer, synchronous=True)
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            with contextlib.suppress(RuntimeError):  # the event loop is gone already
                loop.call_soon_threadsafe(queue.put_nowait, None)

    def _measure_lag(self, consumer: Consumer) -> None:
        """Per owned partition: the high watermark last fetched minus the position.
        An empty partition has none; one whose position is not known yet is left out."""
        lag = {}
        try:
            for tp in consumer.position(consumer.assignment()):
                high = consumer.get_watermark_offsets(tp, cached=True)[1]
                if high == 0 or (tp.offset >= 0 and high >= 0):
                    lag[tp.partition] = max(0, high - max(tp.offset, 0))
        except KafkaException:
            return
        with self._lock:
            self._lag = lag

    def lag(self) -> dict[int, int]:
        """Messages not yet fetched, by owned partition, measured at most
        ``LAG_INTERVAL`` seconds ago (``legato_consumer_lag``)."""
        with self._lock:
            return dict(self._lag)

    def _throttle(self, consumer: Consumer, pause: bool) -> None:
        """Pause fetching at the in-flight bound (or while draining), resume below it.
        Polling goes on either way, so the consumer stays in its group."""
        if pause == self._throttled:
            return
        parts = consumer.assignment()
        if parts:
            (consumer.pause if pause else consumer.resume)(parts)
        self._throttled = pause

    def _handle(
        self,
        msg: Message,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[KafkaDelivery | None],
    ) -> None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("Kafka consumer error: %s", err)
            return
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None  # always set on a consumed message
        with self._lock:
            if partition not in self._owned:
                return  # fetched before its revocation: the new owner delivers it
            tracker = self._offsets.setdefault(partition, PartitionOffsets())
            tracker.started(offset)
            generation = self._generation.get(partition, 0)
        problem = format_problem(msg, self._format)
        job: Any = None
        if problem is None:
            try:
                job = self._decode(msg.value() or b"")
            except msgspec.DecodeError as exc:
                problem = f"undecodable message: {exc}"
        if problem is not None:
            if dead_letter(self._producer, self.settings.deadletter_topic, msg, problem):
                self.dead_lettered += 1
                with self._lock:
                    tracker.finished(offset)
            return
        with self._lock:
            self._outstanding += 1
        kind, stamp = msg.timestamp()
        delivery = KafkaDelivery(
            job,
            partition,
            offset,
            self,
            generation,
            _trace_headers(msg),
            raw=msg.value() or b"",
            published_at=stamp / 1000 if kind != TIMESTAMP_NOT_AVAILABLE else None,
        )
        try:
            loop.call_soon_threadsafe(queue.put_nowait, delivery)
        except RuntimeError:  # the event loop is closed: nobody will run it, stop fetching
            self._stop.set()

    def _ack(self, partition: int, offset: int, generation: int) -> None:
        with self._lock:
            self._outstanding -= 1
            tracker = self._offsets.get(partition)
            if tracker is not None and self._generation.get(partition, 0) == generation:
                tracker.finished(offset)

    def _commit(self, consumer: Consumer, *, synchronous: bool) -> None:
        with self._lock:
            ready = [(p, t.committable(force=synchronous)) for p, t in self._offsets.items()]
        todo = [TopicPartition(self.topic, p, off) for p, off in ready if off is not None]
        if not todo:
            return
        try:
            if synchronous:
                consumer.commit(offsets=todo, asynchronous=False)
            else:
                consumer.commit(offsets=todo, asynchronous=True)
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
                self._owned.add(tp.partition)
        consumer.incremental_assign(partitions)
        if self._throttled:
            consumer.pause(partitions)

    def _revoked(
        self, consumer: Consumer, partitions: list[TopicPartition], lost: bool = False
    ) -> None:
        if not lost:  # a lost partition may be someone else's already: commit nothing
            self._commit(consumer, synchronous=True)
        with self._lock:
            for tp in partitions:
                self._owned.discard(tp.partition)
                self._offsets.pop(tp.partition, None)
                self._lag.pop(tp.partition, None)
                self._generation[tp.partition] = self._generation.get(tp.partition, 0) + 1

    def pause(self) -> None:
        """Stop fetching new jobs; acknowledgements are still committed (for draining)."""
        self._paused.set()

    async def dead_letter(self, delivery: KafkaDelivery, reason: str) -> None:
        """Send a delivered message to the dead-letter topic with ``reason`` (retried
        until the brokers have it), so that acknowledging it loses nothing."""
        source = (self.topic, delivery.partition, delivery.offset)
        loop = asyncio.get_running_loop()
        delay = 0.5
        while not await loop.run_in_executor(
            None,
            dead_letter_value,
            self._producer,
            self.settings.deadletter_topic,
            delivery.raw,
            None,
            source,
            reason,
        ):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        self.dead_lettered += 1

    async def probe(self, timeout: float = 2.0) -> str | None:
        """None if the brokers answer a metadata request for the topic now."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, lambda: self._producer.list_topics(topic=self.topic, timeout=timeout)
            )
        except KafkaException as exc:
            return f"Kafka: {exc}"
        return None

    def in_flight(self) -> int:
        """Jobs handed out and not yet acknowledged."""
        with self._lock:
            return self._outstanding

    async def close(self) -> None:
        self._stop.set()
        loop = asyncio.get_running_loop()
        if self._consumer_thread is not None:
            await loop.run_in_executor(None, self._consumer_thread.join, 30)
        await loop.run_in_executor(None, self._producer.flush, 10)
        await loop.run_in_executor(None, self._poller.join, 5)


def _commit_result(err: KafkaError | None, partitions: list[TopicPartition]) -> None:
    if err is not None and err.code() != KafkaError._NO_OFFSET:
        log.warning("Kafka commit failed (the next one supersedes it): %s", err)


def _headers(msg: Message) -> list[tuple[str, Any]]:
    return list(msg.headers() or ())  # type: ignore[arg-type]


def _trace_headers(msg: Message) -> dict[str, str] | None:
    found = {
        k: v.decode("latin-1")
        for k, v in _headers(msg)
        if k in ("traceparent", "tracestate") and isinstance(v, bytes)
    }
    return found or None


def _resolve(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
