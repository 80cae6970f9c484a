"""Count joins (``join: {count: N}``): the node runs once N predecessors delivered,
with exactly those N outputs; later arrivals are ignored; it is skipped as soon as
fewer than N can still deliver. Jobs are pumped by hand so the order is the test's."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import legato
import legato.runtime.joins
import legato.testing
from legato.runtime.errors import BlueprintError
from legato.schemas import Job


def quorum(calls: Counter[str], need: int = 2, down: tuple[str, ...] = ()) -> legato.Registry:
    async def write(ctx: legato.StepContext) -> int:
        calls[ctx.step_id] += 1
        return 7

    async def replica(ctx: legato.StepContext) -> str:
        calls[ctx.step_id] += 1
        return f"{ctx.node_id}:{ctx.input}"

    async def commit(ctx: legato.StepContext) -> Any:
        calls[ctx.step_id] += 1
        return ctx.input

    flow = legato.Flow("quorum").node("w", write)
    for r in ("r1", "r2", "r3"):
        flow.node(r, replica).edge("w", r, condition="true" if r not in down else "false")
        flow.edge(r, "commit")
    flow.node("commit", commit, join={"count": need}).node("after", commit)
    return legato.compile(flow.edge("commit", "after"))


def by_step(*order: str) -> Any:
    """A Pump pick: the first queued job in ``order``'s preference, else the oldest."""

    def pick(queue: list[Job]) -> int:
        for sid in order:
            for i, job in enumerate(queue):
                if job.step_id == sid:
                    return i
        return 0

    return pick


async def pumped(reg: legato.Registry, *order: str) -> tuple[legato.Engine, str]:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(reg, None)
    await legato.testing.Pump(engine).run(by_step(*order))
    return engine, rid


@pytest.mark.parametrize("order", [("r3", "r1", "r2"), ("r2", "r3", "r1"), ("r1", "r2", "r3")])
async def test_runs_with_the_first_n_outputs_and_ignores_the_rest(order: tuple[str, ...]) -> None:
    calls: Counter[str] = Counter()
    engine, rid = await pumped(quorum(calls), "w", *order, "commit", "after")
    result = await engine.result(await engine.status(rid))
    await engine.close()
    assert result.status == "completed", result.error
    first, second, third = order
    assert result.outputs["commit"] == {first: f"{first}:7", second: f"{second}:7"}
    assert result.outputs[third] == f"{third}:7"  # ran, and the join ignored it
    assert result.outputs["after"] == result.outputs["commit"]
    assert set(calls.values()) == {1}


async def test_the_run_waits_for_a_late_predecessor() -> None:
    # commit and after resolve before r3 has run: the run is not complete until it has.
    calls: Counter[str] = Counter()
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(quorum(calls), None)
    pump = legato.testing.Pump(engine)
    await pump.run(by_step("w", "r1", "r2", "commit", "after"))
    assert (await engine.status(rid)).status == "completed"
    assert calls["r3"] == 1 and calls["after"] == 1
    await engine.close()


@pytest.mark.parametrize(
    ("need", "down", "runs"),
    [(2, ("r1",), True), (2, ("r1", "r3"), False), (3, ("r2",), False), (1, ("r1", "r2"), True)],
)
async def test_skipped_once_fewer_than_n_can_deliver(
    need: int, down: tuple[str, ...], runs: bool
) -> None:
    calls: Counter[str] = Counter()
    result = await legato.run(quorum(calls, need, down), None, timeout=10)
    assert result.status == "completed", result.error
    assert ("commit" in result.outputs) is runs
    assert ("after" in result.outputs) is runs  # a skipped join skips what follows
    if runs:
        assert len(result.outputs["commit"]) == need


async def test_redelivered_jobs_keep_the_joined_set() -> None:
    calls: Counter[str] = Counter()
    engine = legato.Engine(legato.testing.backend())
    reg = quorum(calls)
    rid = await engine.start(reg, None)
    pump = legato.testing.Pump(engine)
    await pump.run(by_step("w", "r2", "r3"))  # r2 and r3 fire commit; r1 still queued
    commit_jobs = [j for j in pump.handled if j.step_id == "commit"]
    assert [j.joined for j in commit_jobs] == [("r2", "r3")]
    for job in list(pump.handled):  # every job again, in a new order
        await pump.handle(job)
    await pump.run()
    result = await engine.result(await engine.status(rid))
    await engine.close()
    assert result.outputs["commit"] == {"r2": "r2:7", "r3": "r3:7"}
    assert set(calls.values()) == {1}, calls
    again = [j for j in pump.handled if j.step_id == "commit"]
    assert {j.joined for j in again} == {("r2", "r3")}


def problems(flow: legato.Flow) -> list[tuple[str, str]]:
    with pytest.raises(BlueprintError) as err:
        legato.compile(flow)
    return [(p.path, p.message) for p in err.value.problems]


async def one(ctx: legato.StepContext) -> int:
    return 1


def test_count_problems_are_listed_with_the_others() -> None:
    flow = (
        legato.Flow("bad")
        .node("a", one)
        .node("b", one)
        .node("many", one, join={"count": 3})
        .node("none", one, join={"count": 0})
        .node("typo", one, join={"cuont": 1})
        .node("c", one, timeout=-1)
        .edge("a", "many")
        .edge("b", "many")
        .edge("a", "none")
        .edge("a", "typo")
    )
    assert problems(flow) == [
        ("nodes[4].config.join.cuont", "unknown key (did you mean 'count'?)"),
        ("nodes[4].config.join.count", "required key missing"),
        ("nodes[3].config.join.count", "must be at least 1"),
        ("nodes[5].config.timeout", "must be a positive number of seconds"),
        ("nodes[2].config.join.count", "3 is more than the 2 predecessor(s) of 'many'"),
    ]


def test_a_count_join_in_a_file_reads_as_its_struct(tmp_path: Any) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "id: f\nnodes:\n  - {id: a, uses: legato.sleep, params: {seconds: 0}}\n"
        "  - {id: b, uses: legato.sleep, params: {seconds: 0}}\n"
        "  - {id: j, uses: legato.sleep, params: {seconds: 0}, config: {join: {count: 1}}}\n"
        "edges: [{source: a, target: j}, {source: b, target: j}]\n"
    )
    reg = legato.compile(str(path))
    assert (reg.nodes["j"].join, reg.nodes["j"].join_count) == ("count", 1)
    assert reg.nodes["a"].ends_run and reg.nodes["b"].ends_run  # j may run before either


RUN, SKIP, WAIT = (
    legato.runtime.joins.JoinDecision.RUN,
    legato.runtime.joins.JoinDecision.SKIP,
    legato.runtime.joins.JoinDecision.WAIT,
)


@pytest.mark.parametrize(
    ("expected", "need", "arrivals", "decisions"),
    [
        # 2 of 3: fires on the second taken arrival, with those two; a repeat of the
        # decider gets the same set, however many arrived since.
        (
            3,
            2,
            [("a", 1), ("b", 0), ("c", 1), ("b", 0), ("c", 1)],
            [WAIT, WAIT, (RUN, ("a", "c")), WAIT, (RUN, ("a", "c"))],
        ),
        (
            3,
            2,
            [("a", 1), ("c", 1), ("b", 1), ("c", 1)],
            [WAIT, (RUN, ("a", "c")), WAIT, (RUN, ("a", "c"))],
        ),
        # Skipped as soon as fewer than N can still deliver.
        (3, 2, [("a", 0), ("b", 0), ("c", 1)], [WAIT, SKIP, WAIT]),
        (4, 3, [("a", 1), ("b", 0), ("c", 0), ("b", 0)], [WAIT, WAIT, SKIP, WAIT]),
        (2, 1, [("a", 0), ("b", 1), ("a", 0)], [WAIT, (RUN, ("b",)), WAIT]),
    ],
)
def test_the_count_rule(
    expected: int, need: int, arrivals: list[tuple[str, int]], decisions: list[Any]
) -> None:
    state = legato.runtime.joins.JoinState()
    got = [
        legato.runtime.joins.arrive_count(state, p, bool(t), expected, need) for p, t in arrivals
    ]
    want = [d if isinstance(d, tuple) else (d, ()) for d in decisions]
    assert got == want
