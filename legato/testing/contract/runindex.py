"""The run index part of the RunStore contract (``RunStore.list_runs``).

Each test works in a time window of its own (a random hour-aligned half day of the
1970s to 2000s), so it sees only its own runs even in a store other tests share.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

from legato.runtime.runindex import RunPage, RunQuery, RunSummary, moment
from legato.schemas import RunCancelled, RunCompleted, RunFailed, RunHeader, RunStarted

HOUR = 3600.0


def window() -> float:
    """The start (unix seconds) of a random hour between 1971 and 2001."""
    return 31_536_000.0 + random.randrange(0, 30 * 365 * 24) * HOUR


async def run_at(store: Any, at: float, blueprint: str = "bp", run_id: str | None = None) -> str:
    rid = run_id or uuid.uuid4().hex
    header = RunHeader(rid, blueprint, "3", "running", None, None, at, at)
    await store.create_run(
        header, RunStarted(at=at, run_id=rid, blueprint_id=blueprint, version="3")
    )
    return rid


def span(start: float) -> dict[str, datetime]:
    """The half day from ``start``, as a query's window."""
    return {"since": moment(int(start * 1000)), "until": moment(int((start + 12 * HOUR) * 1000))}


async def every(store: Any, cursor: str | None = None, **query: Any) -> list[list[RunSummary]]:
    """Every page of a listing (from ``cursor``), following the cursors."""
    pages: list[list[RunSummary]] = []
    while True:
        page: RunPage = await store.list_runs(RunQuery(cursor=cursor, **query))
        pages.append(page.runs)
        if page.cursor is None:
            return pages
        assert page.runs, "a page with a cursor holds runs"
        cursor = page.cursor


def ids(pages: list[list[RunSummary]]) -> list[str]:
    return [r.run_id for page in pages for r in page]


class RunIndexContract:
    """Listing runs newest first by blueprint, status and window, a page at a time."""

    async def test_runs_are_listed_newest_first_a_page_at_a_time(self, store: Any) -> None:
        start = window()
        # Across hour buckets, some in the same hour, one bucket empty between.
        times = [start + 10, start + 20, start + HOUR + 5, start + 3 * HOUR, start + 3 * HOUR + 1]
        made = [await run_at(store, t) for t in times]
        pages = await every(store, limit=2, **span(start))
        assert [len(p) for p in pages] == [2, 2, 1]
        assert ids(pages) == made[::-1]
        first = pages[0][0]
        assert (first.blueprint_id, first.blueprint_version, first.status) == ("bp", "3", "running")
        assert first.started_at == moment(int(times[-1] * 1000)) and first.ended_at is None
        # A page that ends exactly at the last run has no cursor (no empty page after).
        assert [len(p) for p in await every(store, limit=5, **span(start))] == [5]

    async def test_filters_by_blueprint_status_and_both(self, store: Any) -> None:
        start = window()
        a1 = await run_at(store, start + 1, "a")
        b1 = await run_at(store, start + 2, "b")
        a2 = await run_at(store, start + HOUR + 3, "a")
        b2 = await run_at(store, start + 2 * HOUR, "b")
        assert await store.finish_run(a1, "failed", RunFailed(at=start + 50, error="x"), "x")
        assert await store.finish_run(b2, "completed", RunCompleted(at=start + 7300), None)
        w = span(start)
        assert ids(await every(store, blueprint="a", **w)) == [a2, a1]
        assert ids(await every(store, status="running", **w)) == [a2, b1]
        assert ids(await every(store, status="failed", **w)) == [a1]
        assert ids(await every(store, blueprint="b", status="completed", **w)) == [b2]
        assert ids(await every(store, blueprint="b", status="failed", **w)) == []
        assert ids(await every(store, blueprint="a", status="running", **w)) == [a2]
        listed = {r.run_id: r for r in (await store.list_runs(RunQuery(limit=10, **w))).runs}
        assert set(listed) == {a1, b1, a2, b2}
        assert (listed[a1].status, listed[a1].ended_at) == (
            "failed",
            moment(int((start + 50) * 1000)),
        )
        assert listed[b1].ended_at is None and listed[b2].status == "completed"

    async def test_the_time_window_is_since_inclusive_until_exclusive(self, store: Any) -> None:
        start = window()
        made = [await run_at(store, start + i * 600) for i in range(6)]  # every 10 minutes
        since, until = moment(int((start + 600) * 1000)), moment(int((start + 3000) * 1000))
        got = ids(await every(store, since=since, until=until, limit=2))
        assert got == [made[4], made[3], made[2], made[1]]

    async def test_a_run_that_ends_while_paging_is_listed_once(self, store: Any) -> None:
        start = window()
        made = [await run_at(store, start + i * 900) for i in range(8)][::-1]  # newest first
        w = span(start)
        first = await store.list_runs(RunQuery(limit=3, **w))
        running = await store.list_runs(RunQuery(limit=3, status="running", **w))
        # One run already listed and one not yet listed end before the next pages.
        for rid in (made[1], made[5]):
            assert await store.finish_run(rid, "cancelled", RunCancelled(at=start + 9000), None)
        rest = await every(store, limit=3, cursor=first.cursor, **w)
        seen = [r.run_id for r in first.runs] + ids(rest)
        assert seen == made  # every run once, in order
        assert [r.status for page in rest for r in page if r.run_id == made[5]] == ["cancelled"]
        rest = await every(store, limit=3, status="running", cursor=running.cursor, **w)
        seen = [r.run_id for r in running.runs] + ids(rest)
        assert seen == [r for r in made if r != made[5]]  # the ended one is gone from here on
        cancelled = ids(await every(store, status="cancelled", **w))
        assert cancelled == [made[1], made[5]]

    async def test_a_repeated_create_is_listed_once(self, store: Any) -> None:
        start = window()
        rid = await run_at(store, start + 5)
        await run_at(store, start + HOUR * 2, run_id=rid)  # refused: the run exists
        assert ids(await every(store, **span(start))) == [rid]
        assert ids(await every(store, blueprint="bp", **span(start))) == [rid]

    async def test_an_ended_run_is_listed_under_its_final_status_only(self, store: Any) -> None:
        start = window()
        rid = await run_at(store, start + 5, "only")
        assert await store.finish_run(rid, "completed", RunCompleted(at=start + 9), None)
        assert not await store.finish_run(rid, "failed", RunFailed(at=start + 10, error="x"), "x")
        w = span(start)
        for status, expected in (("running", []), ("failed", []), ("completed", [rid])):
            assert ids(await every(store, status=status, **w)) == expected, status
            assert ids(await every(store, status=status, blueprint="only", **w)) == expected
