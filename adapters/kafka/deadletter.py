"""Messages a bus cannot read: why (``format_problem``), and where they go (``dead_letter``)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from legato.runtime import metrics

log = logging.getLogger("legato.kafka")
FORMAT_HEADER = "format"


def format_problem(msg: Message, expected: bytes | None) -> str | None:
    """Why ``msg`` is not in the ``expected`` format (by its ``format`` header), or None.
    A message without the header is tried as the expected format."""
    if expected is None:
        return None
    found: Any = msg.headers() or ()
    for key, value in found:
        if key == FORMAT_HEADER and value != expected:
            shown = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            return f"unsupported format {shown!r} (this worker reads {expected.decode()!r})"
    return None


def dead_letter(producer: Producer, topic: str, msg: Message, reason: str) -> bool:
    """Copy ``msg`` to ``topic`` with ``legato.reason/topic/partition/offset`` headers.
    Blocks (call it off the event loop); True once the brokers have it."""
    source = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
    return dead_letter_value(producer, topic, msg.value() or b"", msg.key(), source, reason)


def dead_letter_value(
    producer: Producer,
    topic: str,
    value: bytes,
    key: bytes | str | None,
    source: tuple[str, int, int],
    reason: str,
) -> bool:
    """``dead_letter`` for a message already consumed: its value, key and
    ``(topic, partition, offset)``."""
    headers: list[tuple[str, str | bytes | None]] = [
        ("legato.reason", reason.encode()),
        ("legato.topic", source[0].encode()),
        ("legato.partition", str(source[1]).encode()),
        ("legato.offset", str(source[2]).encode()),
    ]
    delivered = threading.Event()
    errors: list[object] = []

    def done(err: KafkaError | None, _: Message) -> None:
        if err is not None:
            errors.append(err)
        delivered.set()

    where = f"{source[0]}[{source[1]}]@{source[2]}"
    try:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers, on_delivery=done)
                break
            except BufferError:
                time.sleep(0.01)  # the local queue is full: the poller drains it
    except KafkaException as exc:
        errors.append(exc)
    else:
        producer.flush(10)
        if not delivered.wait(10):
            errors.append("no delivery report within 10 s")
    if errors:
        log.error("dead-lettering %s failed, left unacknowledged: %s", where, errors[0])
        return False
    metrics.dead_lettered(source[0])
    log.error("dead-lettered %s: %s", where, reason)
    return True
