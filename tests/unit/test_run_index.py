"""Listing runs embedded: the query's checks, the engine's listing, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import legato
import legato.testing
from legato.adapters.memory import MemoryRunStore
from legato.runtime.runindex import encode_cursor
from legato.schemas import RunCompleted, RunHeader, RunStarted


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "done"}, "unknown run status 'done'"),
        ({"limit": 0}, "between 1 and 1000"),
        ({"limit": 1001}, "between 1 and 1000"),
        ({"limit": True}, "must be an integer"),
        ({"blueprint": ""}, "must not be empty"),
        (
            {"since": datetime(2026, 1, 2, tzinfo=UTC), "until": datetime(2026, 1, 1, tzinfo=UTC)},
            "since is after until",
        ),
        ({"cursor": "nope!"}, "not a cursor"),
        ({"cursor": "WzIsMSwieCJd"}, "not a cursor"),  # [2, 1, "x"]: another version
    ],
)
def test_a_query_it_cannot_use_is_a_typed_error(query: dict[str, object], message: str) -> None:
    with pytest.raises(legato.InvalidQueryError, match=message):
        legato.RunQuery(**query)  # type: ignore[arg-type]


def test_a_naive_datetime_is_utc_and_the_bounds_combine() -> None:
    naive = legato.RunQuery(until=datetime(2026, 1, 1, 12))
    aware = legato.RunQuery(until=datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert naive.upper() == aware.upper() == (1_767_268_800_000, "")
    cursor = encode_cursor((1_767_268_000_000, "r"))
    assert legato.RunQuery(until=datetime(2026, 1, 1, 12), cursor=cursor).upper() == (
        1_767_268_000_000,
        "r",
    )


async def double(ctx: legato.StepContext) -> int:
    return int(ctx.input) * 2


async def test_the_engine_lists_its_runs_newest_first() -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    one = legato.compile(legato.Flow("one").node("a", double))
    two = legato.compile(legato.Flow("two").node("a", double))
    pump = legato.testing.Pump(engine)
    made = []
    for reg in (one, two, one):
        made.append(await engine.start(reg, 1))
        await pump.run()
        assert (await engine.status(made[-1])).status == "completed"
        await clock.advance(1)
    running = await engine.start(one, 1)  # not pumped: stays running
    page = await engine.list_runs(limit=2)
    assert [r.run_id for r in page.runs] == [running, made[2]]
    rest = await engine.list_runs(limit=2, cursor=page.cursor)
    assert [r.run_id for r in rest.runs] == [made[1], made[0]] and rest.cursor is None
    assert [r.run_id for r in (await engine.list_runs(blueprint="one")).runs] == [
        running,
        made[2],
        made[0],
    ]
    completed = await engine.list_runs(status="completed", blueprint="one")
    assert [r.run_id for r in completed.runs] == [made[2], made[0]]
    assert all(r.ended_at is not None for r in completed.runs)
    since = datetime.fromtimestamp(clock.now(), UTC) - timedelta(seconds=1.5)
    assert [r.run_id for r in (await engine.list_runs(since=since)).runs] == [running, made[2]]


async def test_finished_runs_expire_after_the_retention_running_ones_never() -> None:
    clock = legato.testing.FakeClock()
    store = MemoryRunStore(retention=60.0, clock=clock)
    for rid in ("old", "done"):
        t = clock.now()
        header = RunHeader(rid, "bp", "1", "running", None, None, t, t)
        await store.create_run(header, RunStarted(at=t, run_id=rid, blueprint_id="bp", version="1"))
    assert await store.finish_run("done", "completed", RunCompleted(at=clock.now()), None)
    await clock.advance(59)
    assert {r.run_id for r in (await store.list_runs(legato.RunQuery())).runs} == {"old", "done"}
    await clock.advance(2)
    assert [r.run_id for r in (await store.list_runs(legato.RunQuery())).runs] == ["old"]
    assert await store.get_run("done") is None
    assert (await store.list_runs(legato.RunQuery(status="completed"))).runs == []
    assert (await store.get_run("old")) is not None  # running: kept, however old


async def test_follow_yields_every_event_once_until_the_run_ends_embedded() -> None:
    flow = (
        legato.Flow("follow")
        .node("a", double)
        .node("w", "legato.wait_for_signal", params={"signal": "go"})
        .edge("a", "w")
    )
    async with legato.Engine() as engine:
        engine.start_workers()
        run_id = await engine.start(legato.compile(flow), 1)
        seen = []
        async for event in engine.control.follow(run_id, interval=0.01):
            seen.append(event)
            if event.__struct_config__.tag == "step_waiting":
                await engine.signal(run_id, "go", 1)
        assert seen == await engine.history(run_id)
        assert seen[-1].__struct_config__.tag == "run_completed"
