"""The commands topic: other services start, signal and cancel runs with JSON.

A command is acknowledged only once it took effect or was refused for good (an
unknown run or blueprint is logged and refused). A server outage is waited out
with backoff, the command kept; an error nothing expected is logged with the
command, sent to the dead-letter topic with the reason, and the consumer goes on.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from typing import Any, Protocol, TypeVar

from legato.reconciler.retry import retry_run
from legato.runtime.clock import Clock
from legato.runtime.control import RunControl
from legato.runtime.errors import BackendUnavailableError, LegatoError
from legato.runtime.outages import Outage
from legato.runtime.ports import Delivery
from legato.runtime.schedules import Schedules
from legato.schemas.commands import (
    AddSchedule,
    CancelRun,
    PauseRun,
    PublishEvent,
    ResumeRun,
    RetryRun,
    SendSignal,
    StartRun,
    SteerSchedule,
)
from legato.schemas.schedules import Schedule

log = logging.getLogger("legato.commands")
_outage = Outage(log, "servers (applying commands)")


D = TypeVar("D", bound=Delivery)


class CommandBus(Protocol[D]):
    """Where commands come from; ``D`` is the bus's own delivery type, which its
    ``dead_letter`` takes back."""

    def consume(self) -> AsyncIterator[D]: ...

    async def dead_letter(self, delivery: D, reason: str) -> None: ...


async def handle_command(control: RunControl, command: Any) -> None:
    match command:
        case StartRun():
            await control.start_registered(
                command.blueprint, command.version, command.input, run_id=command.run_id
            )
        case SendSignal():
            await control.signal(
                command.run_id, command.name, command.data, key=command.key, dedupe=command.id
            )
        case CancelRun():
            await control.cancel(command.run_id, command.reason)
        case PauseRun():
            await control.pause(command.run_id, command.reason)
        case ResumeRun():
            await control.resume(command.run_id)
        case PublishEvent():
            await control.publish(
                command.event,
                command.key,
                command.data,
                retain=command.retain,
                event_id=command.id,
            )
        case AddSchedule():
            await Schedules(control.backend, control.ending).add(
                Schedule(
                    command.name,
                    command.blueprint,
                    command.cron,
                    version=command.version,
                    timezone=command.timezone,
                    input=command.input,
                    catch_up=command.catch_up,
                )
            )
        case SteerSchedule():
            schedules = Schedules(control.backend, control.ending)
            if command.action == "pause":
                await schedules.pause(command.name)
            elif command.action == "resume":
                await schedules.resume(command.name)
            else:
                await schedules.delete(command.name)
        case RetryRun():
            await retry_run(
                control.backend,
                control.registries,
                control.ending,
                command.run_id,
                command.from_step,
                limits=control.limits,
            )


async def apply_command(
    control: RunControl, bus: CommandBus[D], delivery: D, clock: Clock, max_delay: float = 30.0
) -> None:
    """Apply one delivered command until it took effect or is refused for good."""
    delay = 0.2
    while True:
        try:
            await handle_command(control, delivery.job)
            _outage.recovered()
            return
        except LegatoError as exc:
            if not exc.retryable:  # an unknown run or blueprint: say so, go on
                log.error("command %r refused: %s", delivery.job, exc)
                return
            if isinstance(exc, BackendUnavailableError):
                _outage.failed(f"command {delivery.job!r} waits: {exc}", delay)
            else:
                log.warning("command %r waits %.1fs: %s", delivery.job, delay, exc)
        except Exception as exc:
            log.exception("command %r failed; dead-lettered", delivery.job)
            await bus.dead_letter(delivery, f"command failed: {exc!r}")
            return
        await clock.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, max_delay)


async def consume_commands(control: RunControl, bus: CommandBus[D], clock: Clock) -> None:
    async for delivery in bus.consume():
        await apply_command(control, bus, delivery, clock)
        await delivery.ack()
