"""One log line when a server becomes unreachable and one when it answers again.

Every retry loop that waits out a server (connecting, handling a job, firing
timers, applying a command, the Kafka clients) reports through an ``Outage``:
the first failure is a warning, the retries in between are debug records, and
the first success after them says how long the outage lasted. The drivers' own
records (``DRIVER_LOGGERS``) are shown only at debug level
(``legato.logs.configure``), so an outage is two lines at the default level,
not a traceback per reconnect attempt.
"""

from __future__ import annotations

import logging
import threading
import time

#: Loggers of the server drivers (cassandra-driver, librdkafka through
#: confluent-kafka, redis-py): their records are debug detail.
DRIVER_LOGGERS = ("cassandra", "confluent_kafka", "redis")


class Outage:
    """The state of one server (or one retry loop) as the log tells it.

    Thread-safe: the Kafka clients report from their own threads.
    """

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self._lock = threading.Lock()
        self._since: float | None = None
        self._retries = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, reason: object, retry_in: float | None = None) -> None:
        """A try failed: a warning if it is the first of an outage, else debug."""
        again = f", retrying in {retry_in:.1f}s" if retry_in is not None else ""
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
            self._retries += 1
        if first:
            self.log.warning(
                "%s unreachable%s: %s (retries are logged at --log-level debug)",
                self.what,
                again,
                reason,
            )
        else:
            self.log.debug("%s still unreachable%s: %s", self.what, again, reason)

    def recovered(self) -> None:
        """A try succeeded: say so once if an outage was going on."""
        with self._lock:
            since, retries = self._since, self._retries
            self._since, self._retries = None, 0
        if since is not None:
            self.log.info(
                "%s reachable again after %.1fs (%d failed %s)",
                self.what,
                time.monotonic() - since,
                retries,
                "try" if retries == 1 else "tries",
            )
