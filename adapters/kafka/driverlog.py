"""librdkafka's log lines and errors, through Python logging and quiet by default.

Without a ``logger``, librdkafka prints every failed connection attempt to
stderr (several lines a second while a broker is down). With one, its records go
to the ``confluent_kafka`` logger, which ``legato.logs`` shows only at debug
level; the clients' errors (``error_cb``) become one warning when the brokers
turn unreachable, and one line when a message, a delivery or an assignment shows
they answer again.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

from legato.runtime.outages import Outage

DRIVER_LOG = logging.getLogger("confluent_kafka")
#: Error codes that mean the brokers cannot be reached (or not securely).
UNREACHABLE = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._AUTHENTICATION,
        KafkaError._SSL,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
    }
)
log = logging.getLogger("legato.kafka")


class KafkaHealth:
    """The reachability of one cluster's brokers, as its clients report it (every
    bus of a process on the same brokers shares one: see ``of``)."""

    def __init__(self, bootstrap: str) -> None:
        self.outage = Outage(log, f"Kafka at {bootstrap}")

    @classmethod
    def of(cls, bootstrap: str) -> KafkaHealth:
        """The one of the brokers ``bootstrap`` names, in this process."""
        found = _BY_BROKERS.get(bootstrap)
        if found is None:
            found = _BY_BROKERS.setdefault(bootstrap, cls(bootstrap))
        return found

    def client_config(self) -> dict[str, Any]:
        """What a Producer or Consumer needs to report here."""
        return {"logger": DRIVER_LOG, "error_cb": self.error}

    def error(self, err: KafkaError) -> None:
        """A client's error: an outage when the brokers cannot be reached, else a
        warning of its own (an unknown topic, a rejected request, ...)."""
        if err.fatal():
            log.error("Kafka client failed for good: %s", err.str())
        elif err.code() in UNREACHABLE:
            self.outage.failed(err.str())
        else:
            log.warning("Kafka: %s", err.str())

    def answered(self) -> None:
        """The brokers answered (a message, a delivery, an assignment)."""
        if self.outage.down:
            self.outage.recovered()


_BY_BROKERS: dict[str, KafkaHealth] = {}
