"""Cron schedules on durable timers: each tick starts exactly one run (its id derived
from the schedule and the tick) whatever the duplicate firings; missed ticks follow
``catch_up``; DST gaps and repeats as documented. Time moves only by FakeClock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import legato
import legato.testing
from legato.runtime import cron
from legato.runtime.cron import ScheduleError
from legato.runtime.schedules import is_tick
from legato.schemas.schedules import Schedule

START = 1_800_000_000.0  # FakeClock's start: 2027-01-15T08:00:00Z


async def one(ctx: legato.StepContext) -> Any:
    return ctx.input


def registry() -> legato.Registry:
    return legato.compile(legato.Flow("nightly").node("a", one))


async def engine_with(catch_up: str = "skip", cron_expr: str = "*/10 * * * * *") -> Any:
    clock = legato.testing.FakeClock(START)
    engine = legato.Engine(legato.testing.backend(clock))
    await engine.register(registry())
    sched = Schedule("every10s", "nightly", cron_expr, input={"n": 1}, catch_up=catch_up)  # type: ignore[arg-type]
    first = await engine.schedules.add(sched)
    return engine, clock, first


async def started_runs(engine: legato.Engine, name: str = "every10s") -> list[str]:
    """The runs that exist for any 10-second tick in the first two hours."""
    candidates = [cron.run_id(name, START + 10 * i) for i in range(721)]
    return sorted([r for r in candidates if await engine.backend.store.get_run(r) is not None])


async def test_each_tick_starts_one_run_with_an_id_from_the_tick() -> None:
    engine, clock, first = await engine_with()
    assert first == START + 10
    pump = legato.testing.Pump(engine)
    for _ in range(3):
        await clock.advance(10)
        await pump.run()
    runs = await started_runs(engine)
    assert runs == [cron.run_id("every10s", START + 10 * i) for i in (1, 2, 3)]
    assert runs[0] == "every10s@20270115T080010Z"
    (entry,) = await engine.schedules.entries()
    assert entry[1] == START + 40  # the next tick is armed
    assert (await engine.status(runs[0])).input == {"n": 1}


async def test_duplicate_and_concurrent_firings_start_one_run_per_tick() -> None:
    engine, clock, _ = await engine_with()
    pump = legato.testing.Pump(engine)
    await clock.advance(10)
    ticks = [j for j in pump.collect() if is_tick(j)]
    assert len(ticks) == 1
    pump.queue.clear()
    for job in ticks * 3:  # redelivered, and as two workers would
        await pump.handle(job)
    await pump.run()
    await clock.advance(10)
    await pump.run()
    for job in ticks:  # a stale firing after the next tick: nothing
        await pump.handle(job)
    await pump.run()
    assert await started_runs(engine) == [
        cron.run_id("every10s", START + 10),
        cron.run_id("every10s", START + 20),
    ]


async def test_a_tick_fired_a_little_late_still_runs_with_skip() -> None:
    engine, clock, _ = await engine_with("skip", "*/10 * * * *")
    await clock.advance(600 + cron_grace() / 2)
    await legato.testing.Pump(engine).run()
    assert await started_runs(engine) == [cron.run_id("every10s", START + 600)]


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [("skip", []), ("latest", [START + 3600]), ("all", [START + 600 * i for i in range(1, 7)])],
)
async def test_ticks_missed_while_no_worker_ran_follow_catch_up(
    catch_up: str, expected: list[float]
) -> None:
    engine, clock, _ = await engine_with(catch_up, "*/10 * * * *")  # every 10 minutes
    await clock.advance(3600 + 2 * cron_grace())  # no worker: the tick job waits
    await legato.testing.Pump(engine).run()
    runs = await started_runs(engine)
    assert runs == sorted(cron.run_id("every10s", t) for t in expected)
    (entry,) = await engine.schedules.entries()
    assert entry[1] is not None and entry[1] > clock.now()  # and the chain goes on


def cron_grace() -> float:
    from legato.runtime.schedules import GRACE

    return GRACE


async def test_pause_resume_and_delete() -> None:
    engine, clock, _ = await engine_with()
    pump = legato.testing.Pump(engine)
    await engine.schedules.pause("every10s")
    assert (await engine.schedules.entries())[0][1] is None  # paused: no next tick
    await clock.advance(30)
    await pump.run()
    assert await started_runs(engine) == []
    nxt = await engine.schedules.resume("every10s")
    assert nxt == START + 40
    await clock.advance(10)
    await pump.run()
    assert await started_runs(engine) == [cron.run_id("every10s", START + 40)]
    await engine.schedules.delete("every10s")
    await clock.advance(60)
    await pump.run()
    assert len(await started_runs(engine)) == 1
    with pytest.raises(ScheduleError, match="no schedule"):
        await engine.schedules.delete("every10s")


async def test_bad_schedules_are_refused_and_nothing_is_written() -> None:
    engine, _, _ = await engine_with()
    for bad, match in [
        (Schedule("s", "nightly", "61 * * * *"), "cron"),
        (Schedule("s", "nightly", "* * *"), "5 fields"),
        (Schedule("s", "nightly", "* * * * *", timezone="Mars/Olympus"), "time zone"),
        (Schedule("s", "no_such", "* * * * *"), "not registered"),
    ]:
        with pytest.raises(ScheduleError, match=match):
            await engine.schedules.add(bad)
    assert [s.name for s, _ in await engine.schedules.entries()] == ["every10s"]


async def test_the_embedded_engine_fires_schedules_while_it_runs() -> None:
    clock = legato.testing.FakeClock(START)
    async with legato.Engine(legato.testing.backend(clock)) as engine:
        await engine.register(registry())
        await engine.schedules.add(Schedule("e", "nightly", "*/5 * * * * *"))
        engine.start_workers()
        await clock.advance(5)
        rid = cron.run_id("e", START + 5)
        for _ in range(100):
            await legato.testing.settle()
            if await engine.backend.store.get_run(rid) is not None:
                break
        result = await engine.wait(rid, timeout=5)
    assert result.status == "completed"


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def test_dst_gap_fires_once_after_the_gap_and_repeat_fires_once() -> None:
    berlin = "Europe/Berlin"
    # 2026-03-29: 02:00 CET -> 03:00 CEST. A daily 02:30 fires at 03:00 CEST (01:00Z).
    after = utc(2026, 3, 28, 12)
    assert list(_take(cron.ticks("30 2 * * *", berlin, after), 2)) == [
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 30, 0, 30),
    ]
    # 2026-10-25: 03:00 CEST -> 02:00 CET. A daily 02:30 fires once (the first 02:30).
    after = utc(2026, 10, 24, 12)
    assert list(_take(cron.ticks("30 2 * * *", berlin, after), 2)) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]
    # ... while an every-30-minutes expression fires in both 02:xx hours.
    after = utc(2026, 10, 24, 23, 50)
    assert list(_take(cron.ticks("*/30 * * * *", berlin, after), 5)) == [
        utc(2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 1, 0),
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 2, 0),
    ]


def _take(it: Any, n: int) -> list[float]:
    return [next(it) for _ in range(n)]


async def test_a_tick_job_from_before_a_resume_starts_nothing() -> None:
    engine, clock, _ = await engine_with()
    pump = legato.testing.Pump(engine)
    await engine.schedules.pause("every10s")
    await clock.advance(10)  # the paused tick's job is published, not handled yet
    old = [j for j in pump.collect() if is_tick(j)]
    pump.queue.clear()
    assert await engine.schedules.resume("every10s") == START + 20
    for job in old:  # handled after the resume: a tick of the pause, skipped
        await pump.handle(job)
    await pump.run()
    assert await started_runs(engine) == []
    assert (await engine.schedules.entries())[0][1] == START + 20


def scheduled_doc(**schedule: Any) -> dict[str, Any]:
    return {
        "id": "hourly_report",
        "version": 2,
        "schedule": schedule,
        "nodes": [{"id": "nap", "uses": "legato.sleep", "params": {"seconds": 0}}],
    }


async def test_a_blueprint_schedule_is_added_when_it_is_registered() -> None:
    clock = legato.testing.FakeClock(START)
    engine = legato.Engine(legato.testing.backend(clock))
    doc = scheduled_doc(cron="0 * * * *", timezone="Europe/Berlin", input={"r": 1})
    await engine.register(legato.compile(doc))
    ((sched, nxt),) = await engine.schedules.entries()
    assert (sched.name, sched.blueprint, sched.version) == ("hourly_report",) * 2 + ("2",)
    assert nxt == START + 3600  # 09:00 UTC, the next full hour
    await clock.advance(3600)
    await legato.testing.Pump(engine).run()
    header = await engine.status(cron.run_id("hourly_report", START + 3600))
    assert (header.version, header.input, header.status) == ("2", {"r": 1}, "completed")


def test_a_bad_blueprint_schedule_is_a_compile_error_with_its_path() -> None:
    with pytest.raises(legato.BlueprintError, match=r"schedule\.cron"):
        legato.compile(scheduled_doc(cron="0 25 * * *"))
    with pytest.raises(legato.BlueprintError, match=r"schedule\.timezone"):
        legato.compile(scheduled_doc(cron="0 * * * *", timezone="Nowhere/Else"))
    with pytest.raises(legato.BlueprintError, match=r"schedule"):
        legato.compile(scheduled_doc(cron="0 * * * *", catch_up="sometimes"))
