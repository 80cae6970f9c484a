"""The Coordinator contract, for every implementation (memory, Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

from legato.runtime.ports import JoinDecision as D


async def test_all_join_fires_once_after_every_predecessor(coordinator: Any) -> None:
    c = coordinator
    assert await c.arrive("r", "j", "a", True, 3, "all") is D.WAIT
    assert await c.arrive("r", "j", "b", False, 3, "all") is D.WAIT
    assert await c.arrive("r", "j", "a", True, 3, "all") is D.WAIT  # redelivered: counted once
    assert await c.arrive("r", "j", "c", False, 3, "all") is D.RUN
    assert await c.arrive("r", "j", "c", False, 3, "all") is D.RUN  # the decider, repeated
    assert await c.arrive("r", "j", "b", False, 3, "all") is D.WAIT


async def test_all_join_of_skips_is_skipped(coordinator: Any) -> None:
    assert await coordinator.arrive("r", "s", "a", False, 2, "all") is D.WAIT
    assert await coordinator.arrive("r", "s", "b", False, 2, "all") is D.SKIP
    assert await coordinator.arrive("r", "s", "b", False, 2, "all") is D.SKIP


async def test_any_join_fires_on_the_first_taken_arrival_only(coordinator: Any) -> None:
    c = coordinator
    assert await c.arrive("r", "k", "a", False, 3, "any") is D.WAIT
    assert await c.arrive("r", "k", "b", True, 3, "any") is D.RUN
    assert await c.arrive("r", "k", "c", True, 3, "any") is D.WAIT  # a third arrival: ignored
    assert await c.arrive("r", "k", "b", True, 3, "any") is D.RUN
    assert await c.arrive("r", "x", "a", False, 2, "any") is D.WAIT
    assert await c.arrive("r", "x", "b", False, 2, "any") is D.SKIP


async def test_joins_are_per_run_and_step(coordinator: Any) -> None:
    assert await coordinator.arrive("r1", "j", "a", True, 2, "all") is D.WAIT
    assert await coordinator.arrive("r2", "j", "b", True, 2, "all") is D.WAIT
    assert await coordinator.arrive("r1", "j2", "b", True, 2, "all") is D.WAIT


async def test_concurrent_arrivals_fire_exactly_once(coordinator: Any) -> None:
    preds = [f"p{i}" for i in range(50)]
    arrivals = [coordinator.arrive("r", "big", p, True, 50, "all") for p in preds * 2]
    decisions = await asyncio.gather(*arrivals)
    runs = [p for p, d in zip(preds * 2, decisions, strict=True) if d is D.RUN]
    assert len(runs) in (1, 2) and len(set(runs)) == 1  # one decider (maybe seen twice)


async def test_leases_are_exclusive_and_fenced(coordinator: Any) -> None:
    c = coordinator
    t1 = await c.acquire_lease("r", "s", "w1", 5.0)
    assert t1 is not None
    assert await c.acquire_lease("r", "s", "w2", 5.0) is None
    assert await c.renew_lease("r", "s", t1, 5.0)
    await c.release_lease("r", "s", t1 + 100)  # a wrong token releases nothing
    assert await c.acquire_lease("r", "s", "w2", 5.0) is None
    await c.release_lease("r", "s", t1)
    t2 = await c.acquire_lease("r", "s", "w2", 5.0)
    assert t2 is not None and t2 > t1
    assert not await c.renew_lease("r", "s", t1, 5.0)  # the old holder lost it


async def test_an_expired_lease_can_be_taken(coordinator: Any) -> None:
    assert not await coordinator.lease_held("r", "e")
    t1 = await coordinator.acquire_lease("r", "e", "w1", 0.05)
    assert await coordinator.lease_held("r", "e")
    await asyncio.sleep(0.12)
    assert not await coordinator.lease_held("r", "e")
    t2 = await coordinator.acquire_lease("r", "e", "w2", 5.0)
    assert t1 is not None and t2 is not None and t2 > t1


async def test_fifty_concurrent_distinct_arrivals_fire_exactly_once(coordinator: Any) -> None:
    preds = [f"p{i}" for i in range(50)]
    decisions = await asyncio.gather(
        *(coordinator.arrive("r", "fan", p, i % 3 != 0, 50, "all") for i, p in enumerate(preds))
    )
    assert decisions.count(D.RUN) == 1 and decisions.count(D.WAIT) == 49


async def test_fifty_concurrent_any_arrivals_take_exactly_one(coordinator: Any) -> None:
    decisions = await asyncio.gather(
        *(coordinator.arrive("r", "first", f"p{i}", True, 50, "any") for i in range(50))
    )
    assert decisions.count(D.RUN) == 1


async def test_forget_run_drops_its_joins_only(coordinator: Any) -> None:
    c = coordinator
    assert await c.arrive("gone", "j", "a", True, 2, "all") is D.WAIT
    assert await c.arrive("kept", "j", "a", True, 2, "all") is D.WAIT
    await c.forget_run("gone")
    assert await c.arrive("gone", "j", "b", True, 2, "all") is D.WAIT  # "a" was forgotten
    assert await c.arrive("kept", "j", "b", True, 2, "all") is D.RUN
