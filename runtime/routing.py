"""Which edges a completion takes, and the arrivals and jobs that follow from it.

``decide`` is pure: from a step's output, action and the variables its
conditions read, it says which outgoing edges are not taken and whether a
loop goes round again. It runs once, before the step is recorded, and the
answer is stored in the step's record, so every later re-drive of the step
(a redelivery, the reconciler) routes exactly the same way.

``Router.successors`` turns a resolved step's record into arrivals at its
targets (``joins``), skips of dead paths (recorded at once, and followed), the
jobs of the steps that fired, and the arrival at the run's end. It is
idempotent: repeating it after a crash or a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, NamedTuple

from legato.runtime import joins, metrics
from legato.runtime.ending import RunEnding
from legato.runtime.errors import ExpressionError, LoopLimitError
from legato.runtime.joins import JoinDecision, JoinMode
from legato.runtime.ports import Coordinator, RunStore
from legato.runtime.registry import END_STEP, CompiledEdge, CompiledNode, Registry
from legato.schemas import Job, RunHeader, StepCompleted, StepRecord, StepSkipped


class Routing(NamedTuple):
    """Which edges a completion did not take (usually few: a fan-out takes all), and
    whether a loop's last node went back to the loop's start."""

    skipped: tuple[str, ...]
    looped: bool = False


def _truthy(value: Any, source: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"condition {source!r} returned {type(value).__name__}, not a bool")
    return value


def _taken(edge: CompiledEdge, action: str | None, variables: dict[str, Any]) -> bool:
    if edge.action is not None and edge.action != action:
        return False
    if edge.condition is None:
        return True
    return _truthy(edge.condition.evaluate(variables), edge.condition.source)


def decide(
    node: CompiledNode,
    iteration: int,
    output: Any,
    action: str | None,
    run_input: Any,
    context: dict[str, Any],
) -> Routing:
    """The edges this completion does not take. ``context`` holds the values of the
    keys the node's conditions read (``node.route_keys``)."""
    variables = {"output": output, "input": run_input, "context": context, "iteration": iteration}
    lp = node.loop
    if lp is not None and lp.tail == node.id and _taken(lp.back_edge, action, variables):
        if iteration + 1 >= lp.back_edge.max_iterations:
            raise LoopLimitError(
                f"loop {lp.head} -> {lp.tail} reached max_iterations "
                f"({lp.back_edge.max_iterations})"
            )
        return Routing((), looped=True)
    return Routing(tuple(e.target for e in node.out_edges if not _taken(e, action, variables)))


def step_job(
    reg: Registry,
    run_id: str,
    node: CompiledNode,
    iteration: int,
    trigger: str,
    joined: tuple[str, ...] = (),
) -> Job:
    """The job of ``node``'s step at ``iteration``, fired by step ``trigger`` (a count
    join: with the ``joined`` steps its input is made of)."""
    sid = node.step_id(iteration)
    if joined:
        return Job(run_id, sid, node.id, reg.id, reg.version, iteration, 1, trigger, joined=joined)
    return Job(run_id, sid, node.id, reg.id, reg.version, iteration, 1, trigger)


class Router:
    """Delivers a resolved step's arrivals and returns the jobs that follow."""

    def __init__(
        self,
        store: RunStore,
        coordinator: Coordinator,
        ending: RunEnding,
        now: Callable[[], float],
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.ending = ending
        self.now = now

    async def arrive(
        self,
        run_id: str,
        step_id: str,
        predecessor: str,
        taken: bool,
        expected: int,
        mode: JoinMode,
    ) -> JoinDecision:
        """One arrival: decided alone for a single predecessor, else by the coordinator."""
        if expected == 1:
            return joins.alone(taken)
        return await self.coordinator.arrive(run_id, step_id, predecessor, taken, expected, mode)

    async def successors(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        iteration: int,
        record: StepRecord,
        *,
        resolved: Container[str] = (),
    ) -> list[Job]:
        """Deliver the arrivals of a resolved step, skipping dead paths; return the
        jobs of the steps that fired. Arrivals are always delivered (that repairs lost
        join state); steps in ``resolved`` are neither enqueued nor skipped again
        (the reconciler's re-drive)."""
        run_id = header.run_id
        jobs: list[Job] = []
        work = [(node, iteration, record)]
        while work:
            n, it, rec = work.pop()
            src = n.step_id(it)
            lp = n.loop
            if lp is not None and lp.tail == n.id:
                if rec.status == "done" and rec.looped:
                    head = reg.nodes[lp.head]
                    if head.step_id(it + 1) not in resolved:
                        jobs.append(step_job(reg, run_id, head, it + 1, src))
                    continue
                # The loop exits: its last node is resolved under its plain id too.
                rec = await self.resolve_alias(run_id, n, rec)
                src = n.id
            skipped = frozenset(rec.skipped) if len(rec.skipped) > 4 else rec.skipped
            for e in n.out_edges:
                t = reg.nodes[e.target]
                t_it = it if t.loop is not None and t.loop is n.loop else 0
                tid = t.step_id(t_it)
                taken = rec.status == "done" and e.target not in skipped
                joined: tuple[str, ...] = ()
                if len(t.preds) == 1:  # as ``arrive``, without an await on the hot path
                    decision = joins.alone(taken)
                elif t.join == "count":
                    decision, joined = await self.coordinator.arrive_count(
                        run_id, tid, src, taken, len(t.preds), t.join_count
                    )
                else:
                    decision = await self.arrive(run_id, tid, src, taken, len(t.preds), t.join)
                if tid in resolved:
                    continue
                if decision is JoinDecision.RUN:
                    if len(t.preds) > 1:
                        metrics.join_fired(reg.id, t.id)
                    jobs.append(step_job(reg, run_id, t, t_it, src, joined))
                elif decision is JoinDecision.SKIP:
                    work.append((t, t_it, await self.skip(run_id, t, t_it)))
                    metrics.step_skipped(reg.id, t.id)
            if n.ends_run:
                await self.arrive_end(reg, header, src)
        return jobs

    async def skip(self, run_id: str, node: CompiledNode, iteration: int) -> StepRecord:
        sid = node.step_id(iteration)
        event = StepSkipped(at=self.now(), step_id=sid, node=node.id)
        return await self.store.resolve_step(run_id, sid, StepRecord("skipped", node.id), event)

    async def resolve_alias(self, run_id: str, node: CompiledNode, rec: StepRecord) -> StepRecord:
        at = self.now()
        event: StepCompleted | StepSkipped
        if rec.status == "skipped":
            event = StepSkipped(at=at, step_id=node.id, node=node.id)
        else:
            event = StepCompleted(
                at=at,
                step_id=node.id,
                node=node.id,
                attempt=rec.attempt,
                output=rec.output,
                action=rec.action,
                skipped=rec.skipped,
                looped=rec.looped,
                fallback=rec.fallback,
            )
        return await self.store.resolve_step(run_id, node.id, rec, event)

    async def arrive_end(self, reg: Registry, header: RunHeader, src: str) -> None:
        """The run's end is a join of its end nodes: when it fires, the run completes."""
        decision = await self.arrive(header.run_id, END_STEP, src, True, len(reg.end_nodes), "all")
        if decision is JoinDecision.RUN:
            await self.ending.complete(header.run_id)
