"""The commands consumer (defect 2 of issue 10): an outage is waited out with the
command kept; an unexpected error dead-letters the command and the consumer goes on;
a refusal (unknown run or blueprint) is logged and the command acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import legato
import legato.testing
from legato.commands import consume_commands
from legato.runtime.errors import BackendUnavailableError
from legato.schemas.commands import CancelRun, SendSignal, StartRun


@dataclass
class Delivery:
    job: Any
    acked: bool = False
    headers: Any = None

    async def ack(self) -> None:
        self.acked = True


@dataclass
class CommandBus:
    deliveries: list[Delivery]
    dead: list[tuple[Any, str]] = field(default_factory=list)

    async def consume(self) -> Any:
        for d in self.deliveries:
            yield d

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self.dead.append((delivery.job, reason))


async def one(ctx: legato.StepContext) -> int:
    return 1


async def test_defect_02_commands_meeting_an_outage_or_a_bug_are_never_dropped() -> None:
    store = legato.testing.Faults(legato.testing.backend().store)
    store.fail("create_run", BackendUnavailableError("cassandra: no host"), times=3)
    store.fail("get_run", RuntimeError("a bug"), when=lambda run_id: run_id == "boom")
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock, store=store))
    reg = await engine.register(legato.compile(legato.Flow("cmd").node("a", one)))
    bus = CommandBus(
        [
            Delivery(StartRun(reg.id, "1", None, run_id="r1")),  # meets the outage
            Delivery(SendSignal("no-such-run", "go")),  # refused: unknown run
            Delivery(CancelRun("boom")),  # meets a bug: dead-lettered
            Delivery(StartRun(reg.id, "1", None, run_id="r2")),  # the consumer goes on
        ]
    )
    consuming = asyncio.ensure_future(consume_commands(engine.control, bus, clock))
    await clock.run_until(lambda: all(d.acked for d in bus.deliveries), step=1.0, limit=120)
    await consuming
    assert store.calls["create_run"] == 3 + 1 + 1
    assert (await engine.status("r1")).status == "running"
    assert (await engine.status("r2")).status == "running"
    assert [type(c).__name__ for c, _ in bus.dead] == ["CancelRun"]
    assert "command failed: RuntimeError('a bug')" in bus.dead[0][1]


async def test_a_start_command_with_an_oversized_input_is_refused_and_starts_nothing(
    caplog: Any,
) -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock), limits=legato.Limits(input_bytes=64))
    reg = await engine.register(legato.compile(legato.Flow("cmdbig").node("a", one)))
    bus = CommandBus(
        [
            Delivery(StartRun(reg.id, "1", "x" * 100, run_id="big")),
            Delivery(StartRun(reg.id, "1", "small", run_id="ok")),
        ]
    )
    await consume_commands(engine.control, bus, clock)
    assert all(d.acked for d in bus.deliveries) and bus.dead == []
    assert (await engine.status("ok")).status == "running"
    assert await engine.backend.store.get_run("big") is None
    assert "over the limit of 64 bytes" in caplog.text


async def test_run_control_commands_wait_out_an_outage_and_refuse_what_does_not_apply() -> None:
    from legato.schemas.commands import PauseRun, PublishEvent, ResumeRun, RetryRun
    from tests.unit.test_events import payment_flow

    store = legato.testing.Faults(legato.testing.backend().store)
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock, store=store))
    rid = await engine.start(payment_flow(), {"order": "o-1"}, run_id="r-events")
    await legato.testing.Pump(engine).run()
    store.fail("event_waiters", BackendUnavailableError("cassandra: no host"), times=2)
    bus = CommandBus(
        [
            Delivery(PauseRun(rid, "by command")),
            Delivery(PublishEvent("payment", "o-1", {"eur": 3}, id="e1")),  # meets the outage
            Delivery(PauseRun(rid)),  # refused: already paused
            Delivery(RetryRun(rid)),  # refused: running runs are not retried
            Delivery(ResumeRun(rid)),
        ]
    )
    consuming = asyncio.ensure_future(consume_commands(engine.control, bus, clock))
    await clock.run_until(lambda: all(d.acked for d in bus.deliveries), step=1.0, limit=120)
    await consuming
    assert store.calls["event_waiters"] == 2 + 1
    assert bus.dead == []
    await legato.testing.Pump(engine).run()
    result = await engine.result(await engine.status(rid))
    assert result.status == "completed" and result.outputs["paid"] == {"eur": 3}


async def test_schedule_commands_add_steer_and_refuse() -> None:
    from legato.schemas.commands import AddSchedule, SteerSchedule

    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    reg = await engine.register(legato.compile(legato.Flow("cmd_sched").node("a", one)))
    bus = CommandBus(
        [
            Delivery(AddSchedule("s1", reg.id, "*/5 * * * *", catch_up="latest")),
            Delivery(AddSchedule("s2", reg.id, "not cron")),  # refused
            Delivery(AddSchedule("s3", "no_such_blueprint", "* * * * *")),  # refused
            Delivery(SteerSchedule("s1", "pause")),
            Delivery(SteerSchedule("nope", "delete")),  # refused
        ]
    )
    consuming = asyncio.ensure_future(consume_commands(engine.control, bus, clock))
    await clock.run_until(lambda: all(d.acked for d in bus.deliveries), step=1.0, limit=120)
    await consuming
    assert bus.dead == []
    ((sched, _),) = await engine.schedules.entries()
    assert (sched.name, sched.catch_up, sched.paused) == ("s1", "latest", True)
