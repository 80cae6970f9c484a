"""The Coordinator contract. Subclass ``CoordinatorContract`` and give two fixtures:
``coordinator`` (a fresh Coordinator whose data began longer ago than the leases the
tests take: else each new step gets the grace after a loss, see ``LeaseGrant``) and
``lose_data`` (an async callable that makes it lose every key, as a restart without
persistence or a flush would)."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from legato.runtime import joins
from legato.runtime.joins import JoinDecision as D
from legato.runtime.joins import JoinMode
from legato.schemas import WorkerInfo

# One join case: (expected, mode, arrivals as (predecessor, taken) in order).
JoinCase = tuple[int, JoinMode, tuple[tuple[str, bool], ...]]
# One count join case: (expected, N, arrivals as (predecessor, taken) in order).
CountCase = tuple[int, int, tuple[tuple[str, bool], ...]]


def join_cases(count: int = 160, seed: int = 7) -> list[JoinCase]:
    """Arrival sequences covering the join rule: every order of 2 and 3 predecessors
    with every taken/skip choice, then seeded random sequences with repeats (a
    predecessor always arrives with the same ``taken``, as its record is fixed)."""
    cases: list[JoinCase] = []
    modes: tuple[JoinMode, ...] = ("all", "any")
    for expected, mode in itertools.product((2, 3), modes):
        preds = [f"p{i}" for i in range(expected)]
        for taken in itertools.product((True, False), repeat=expected):
            for order in itertools.permutations(range(expected)):
                seq = tuple((preds[i], taken[i]) for i in order)
                cases.append((expected, mode, seq + seq[:1]))  # and the first one again
    rng = random.Random(seed)
    for _ in range(count):
        expected = rng.randint(1, 5)
        picked = rng.choice(modes)
        by_pred = {f"p{i}": rng.random() < 0.5 for i in range(expected)}
        arrivals = tuple((p, by_pred[p]) for p in rng.choices(list(by_pred), k=rng.randint(1, 9)))
        cases.append((expected, picked, arrivals))
    return cases


def expected_decisions(case: JoinCase) -> list[D]:
    """What ``legato.runtime.joins.arrive`` decides for each arrival of ``case``."""
    expected, mode, seq = case
    state = joins.JoinState()
    return [joins.arrive(state, p, taken, expected, mode) for p, taken in seq]


def count_cases(count: int = 160, seed: int = 11) -> list[CountCase]:
    """Arrival sequences covering count joins: every order of 3 predecessors with every
    taken/skip choice for each ``N``, then seeded random sequences with repeats."""
    cases: list[CountCase] = []
    preds = ["p0", "p1", "p2"]
    for need in (1, 2, 3):
        for taken in itertools.product((True, False), repeat=3):
            for order in itertools.permutations(range(3)):
                seq = tuple((preds[i], taken[i]) for i in order)
                cases.append((3, need, seq + seq[-1:] + seq[:1]))  # the last and first again
    rng = random.Random(seed)
    for _ in range(count):
        expected = rng.randint(2, 6)
        need = rng.randint(1, expected)
        delivers = {f"p{i}": rng.random() < 0.6 for i in range(expected)}
        seq = tuple((p, delivers[p]) for p in rng.choices(list(delivers), k=rng.randint(1, 12)))
        cases.append((expected, need, seq))
    return cases


def expected_count_decisions(case: CountCase) -> list[joins.CountDecision]:
    """What ``legato.runtime.joins.arrive_count`` decides for each arrival of ``case``."""
    expected, need, seq = case
    state = joins.JoinState()
    return [joins.arrive_count(state, p, taken, expected, need) for p, taken in seq]


class CoordinatorContract:
    """Joins decided by the one join rule, exclusive fenced leases, data loss."""

    async def test_every_join_case_decides_as_the_join_rule(self, coordinator: Any) -> None:
        run = uuid.uuid4().hex
        for n, case in enumerate(join_cases()):
            expected, mode, seq = case
            got = [
                await coordinator.arrive(run, f"j{n}", p, taken, expected, mode) for p, taken in seq
            ]
            assert got == expected_decisions(case), case

    async def test_every_count_join_case_decides_as_the_join_rule(self, coordinator: Any) -> None:
        run = uuid.uuid4().hex
        for n, case in enumerate(count_cases()):
            expected, need, seq = case
            got = [
                await coordinator.arrive_count(run, f"c{n}", p, taken, expected, need)
                for p, taken in seq
            ]
            assert got == expected_count_decisions(case), case

    async def test_fifty_concurrent_count_arrivals_fire_once_with_n(self, coordinator: Any) -> None:
        preds = [f"p{i}" for i in range(50)]
        decisions = await asyncio.gather(
            *(coordinator.arrive_count("r", "cnt", p, True, 50, 7) for p in preds)
        )
        fired = [d for d in decisions if d.decision is D.RUN]
        assert len(fired) == 1 and len(fired[0].joined) == 7
        assert len(set(fired[0].joined)) == 7 and set(fired[0].joined) <= set(preds)

    async def test_concurrent_arrivals_fire_exactly_once(self, coordinator: Any) -> None:
        preds = [f"p{i}" for i in range(50)]
        arrivals = [coordinator.arrive("r", "big", p, True, 50, "all") for p in preds * 2]
        decisions = await asyncio.gather(*arrivals)
        runs = [p for p, d in zip(preds * 2, decisions, strict=True) if d is D.RUN]
        assert len(runs) in (1, 2) and len(set(runs)) == 1  # one decider (maybe seen twice)

    async def test_fifty_concurrent_distinct_arrivals_fire_exactly_once(
        self, coordinator: Any
    ) -> None:
        decisions = await asyncio.gather(
            *(coordinator.arrive("r", "fan", f"p{i}", i % 3 != 0, 50, "all") for i in range(50))
        )
        assert decisions.count(D.RUN) == 1 and decisions.count(D.WAIT) == 49

    async def test_fifty_concurrent_any_arrivals_take_exactly_one(self, coordinator: Any) -> None:
        decisions = await asyncio.gather(
            *(coordinator.arrive("r", "first", f"p{i}", True, 50, "any") for i in range(50))
        )
        assert decisions.count(D.RUN) == 1

    async def test_joins_are_per_run_and_step(self, coordinator: Any) -> None:
        assert await coordinator.arrive("r1", "j", "a", True, 2, "all") is D.WAIT
        assert await coordinator.arrive("r2", "j", "b", True, 2, "all") is D.WAIT
        assert await coordinator.arrive("r1", "j2", "b", True, 2, "all") is D.WAIT

    async def test_forget_run_drops_its_joins_only(self, coordinator: Any) -> None:
        c = coordinator
        assert await c.arrive("gone", "j", "a", True, 2, "all") is D.WAIT
        assert await c.arrive("kept", "j", "a", True, 2, "all") is D.WAIT
        await c.forget_run("gone")
        assert await c.arrive("gone", "j", "b", True, 2, "all") is D.WAIT  # "a" was forgotten
        assert await c.arrive("kept", "j", "b", True, 2, "all") is D.RUN

    async def test_leases_are_exclusive_and_fenced(self, coordinator: Any) -> None:
        c = coordinator
        t1 = (await c.acquire_lease("r", "s", "w1", 5.0)).token
        assert t1 is not None
        refused = await c.acquire_lease("r", "s", "w2", 5.0)
        assert refused.token is None and 4.0 < refused.held_for <= 5.0
        assert await c.renew_lease("r", "s", t1, 5.0)
        await c.release_lease("r", "s", t1 + 100)  # a wrong token releases nothing
        assert (await c.acquire_lease("r", "s", "w2", 5.0)).token is None
        await c.release_lease("r", "s", t1)
        t2 = (await c.acquire_lease("r", "s", "w2", 5.0)).token
        assert t2 is not None and t2 > t1
        assert not await c.renew_lease("r", "s", t1, 5.0)  # the old holder lost it

    async def test_a_released_lease_can_be_taken_at_once(self, coordinator: Any) -> None:
        c = coordinator
        t1 = (await c.acquire_lease("r", "rel", "w1", 30.0)).token
        assert t1 is not None
        await c.release_lease("r", "rel", t1)
        assert not await c.lease_held("r", "rel")
        t2 = (await c.acquire_lease("r", "rel", "w2", 30.0)).token
        assert t2 is not None and t2 > t1

    async def test_an_expired_lease_can_be_taken(self, coordinator: Any) -> None:
        assert not await coordinator.lease_held("r", "e")
        t1 = (await coordinator.acquire_lease("r", "e", "w1", 0.05)).token
        assert await coordinator.lease_held("r", "e")
        await asyncio.sleep(0.12)
        assert not await coordinator.lease_held("r", "e")
        t2 = (await coordinator.acquire_lease("r", "e", "w2", 5.0)).token
        assert t1 is not None and t2 is not None and t2 > t1

    async def test_tokens_after_data_loss_are_greater_and_holders_keep_their_lease(
        self, coordinator: Any, lose_data: Callable[[], Awaitable[None]]
    ) -> None:
        c = coordinator
        old = (await c.acquire_lease("r", "x", "w1", 30.0)).token
        taken = (await c.acquire_lease("r", "y", "w1", 30.0)).token
        assert old is not None and taken is not None
        epoch, _ = await c.epoch()
        await asyncio.sleep(0.005)
        await lose_data()
        # The one caller that sees the new data first is told so (it repairs).
        seen = await asyncio.gather(*(c.epoch() for _ in range(5)))
        assert [created for _, created in seen].count(True) <= 1
        assert len({e for e, _ in seen}) == 1 and seen[0][0] != epoch
        # x's holder heartbeats: its lease is re-established, nobody else gets x.
        assert await c.renew_lease("r", "x", old, 30.0)
        assert (await c.acquire_lease("r", "x", "w2", 30.0)).token is None
        # y's holder is slower: for a lease's time, nobody takes y unless the step's
        # history shows it was never claimed (which a worker running y did first).
        wait = await c.acquire_lease("r", "y", "w2", 30.0)
        assert wait.token is None and wait.grace and 25.0 < wait.held_for <= 30.0
        # A step the new data knows nothing of, claimed by nobody: taken at once.
        fresh = await c.acquire_lease("r", "new", "w2", 30.0, unclaimed=True)
        assert fresh.token is not None and fresh.token > taken
        # y's holder was lost with the data (or its owner says y was never claimed):
        # another worker takes it, with a greater token, and the old holder lost it.
        new = (await c.acquire_lease("r", "y", "w2", 30.0, unclaimed=True)).token
        assert new is not None and new > taken
        assert not await c.renew_lease("r", "y", taken, 30.0)

    async def test_after_data_loss_a_step_is_taken_once_a_lease_has_passed(
        self, coordinator: Any, lose_data: Callable[[], Awaitable[None]]
    ) -> None:
        c = coordinator
        old = (await c.acquire_lease("r", "z", "w1", 30.0)).token
        assert old is not None
        await lose_data()
        wait = await c.acquire_lease("r", "z", "w2", 0.1)
        assert wait.token is None and wait.grace and 0 < wait.held_for <= 0.1
        await asyncio.sleep(0.15)  # the grace (one lease of the caller's) is over
        new = await c.acquire_lease("r", "z", "w2", 0.1)
        assert new.token is not None and new.token > old and not new.grace
        assert not await c.renew_lease("r", "z", old, 30.0)

    async def test_workers_are_listed_until_their_heartbeat_expires_or_they_stop(
        self, coordinator: Any
    ) -> None:
        c = coordinator
        steady = WorkerInfo(uuid.uuid4().hex, "h1", 11, ("jobs",), 8, 2, 1.0, 2.0)
        brief = WorkerInfo(uuid.uuid4().hex, "h2", 12, ("jobs", "commands"), 4)
        await c.heartbeat_worker(steady, 30.0)
        await c.heartbeat_worker(brief, 0.05)
        assert await c.live_workers() == sorted([steady, brief], key=lambda w: w.worker_id)
        busier = msgspec.structs.replace(steady, in_flight=7, heartbeat_at=3.0)
        await c.heartbeat_worker(busier, 30.0)  # a heartbeat replaces what was said
        await asyncio.sleep(0.12)
        assert await c.live_workers() == [busier]  # the other one's heartbeat expired
        await c.drop_worker(busier.worker_id)
        assert await c.live_workers() == []
