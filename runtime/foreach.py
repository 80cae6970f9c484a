"""Foreach nodes: one step per item of a list computed at run time.

A foreach node's own step (``node``, or ``node#3`` in a loop) runs no node code.
It evaluates ``items`` once (CEL over the variables of ``inputs:``), keeps the
list by position (``RunStore.put_items``), records that it waits
(``StepWaiting(items=N)``) and publishes the first items' jobs; its lease is
released, so no worker slot is held while the items run. An empty list resolves
the step with ``[]`` at once.

Each item is a step of its own, ``node[i]``, with the node's retries and timeout.
It reads only its own item (one row), never its siblings. ``max_concurrency``
(the *window* ``w``) bounds the items in flight across all workers without shared
state: items ``0..w-1`` start at once and item ``i + w`` is published by the
resolution of item ``i``. Each chain ``r, r+w, r+2w, ...`` has at most one item in
flight, so at most ``w`` are.

The node's completion is decided once, by a join of its items (the coordinator's
join rule: ``N`` distinct items arrived, whatever the redeliveries) under the key
``node[]``; the worker whose arrival fires it reads the item outputs in pages and
resolves the node's step with the list, in item order, then routes as any step.
Everything here is idempotent: a redelivered item job re-drives its arrival and
its successor in the chain, which repairs lost coordinator state too.

An item that fails after its retries fails the node: the node's fallback (if any)
runs once with the node's own input and stands in for the whole node; otherwise
the run fails.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from typing import Any

from legato.runtime import outcomes
from legato.runtime.errors import LegatoError, NonRetryableError
from legato.runtime.inputs import ref_steps
from legato.runtime.joins import JoinDecision
from legato.runtime.ports import Coordinator, RunStore
from legato.runtime.registry import CompiledNode, Registry
from legato.runtime.routing import Router, decide
from legato.runtime.steps import StepId, item_step
from legato.schemas import Job, RunHeader, StepRecord, StepWaiting

PAGE = 500  # item records read at once when the node completes
_PUBLISH = 1000  # item jobs per publish call


def gather_key(parent: str) -> str:
    """The coordinator key of the join of a foreach step's items."""
    return f"{parent}[]"


def is_item(job: Job) -> bool:
    return job.index is not None


def items_of(
    reg: Registry,
    node: CompiledNode,
    iteration: int,
    run_input: Any,
    records: Mapping[str, StepRecord],
    context: Mapping[str, Any],
) -> list[Any]:
    """Evaluate the node's ``items`` (variables of ``inputs:``); a non-list is an error
    that no retry fixes."""
    assert node.foreach is not None
    outputs = {}
    for ref, sid in ref_steps(reg, node, iteration).items():
        rec = records.get(sid)
        if rec is not None and rec.status == "done":
            outputs[ref] = rec.output
    variables = {"input": run_input, "outputs": outputs, "context": context, "iteration": iteration}
    value = node.foreach.items.evaluate(variables)
    if not isinstance(value, list | tuple):
        raise NonRetryableError(
            f"foreach items {node.foreach.items.source!r} gave {type(value).__name__}, not a list"
        )
    return list(value)


def item_job(parent: Job, index: int, count: int) -> Job:
    """The job of item ``index`` (of ``count``) of the foreach step of ``parent``."""
    return Job(
        parent.run_id,
        item_step(parent.step_id, index),
        parent.node,
        parent.blueprint,
        parent.version,
        parent.iteration,
        1,
        parent.step_id,
        trace=parent.trace,
        index=index,
        items=count,
    )


def parent_job(item: Job) -> Job:
    """The job of the foreach step an item belongs to (for its fallback)."""
    return Job(
        item.run_id,
        StepId.parse(item.step_id).parent,
        item.node,
        item.blueprint,
        item.version,
        item.iteration,
        1,
        trace=item.trace,
    )


def first_jobs(parent: Job, node: CompiledNode, count: int) -> list[Job]:
    """The items that start at once: the first window (every item when unbounded)."""
    assert node.foreach is not None
    window = node.foreach.window
    return [item_job(parent, i, count) for i in range(min(count, window or count))]


def batches(jobs: list[Job]) -> list[list[Job]]:
    return [jobs[i : i + _PUBLISH] for i in range(0, len(jobs), _PUBLISH)]


class Fanout:
    """Expands foreach steps and completes them when their items are resolved."""

    def __init__(
        self,
        store: RunStore,
        coordinator: Coordinator,
        router: Router,
        now: Callable[[], float],
        *,
        worker: str,
        max_value_bytes: int,
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.router = router
        self.now = now
        self.worker = worker
        self.max_value_bytes = max_value_bytes

    async def expand(self, node: CompiledNode, job: Job, items: list[Any]) -> list[Job]:
        """Keep the items and note the wait; returns the jobs of the items to start.
        Idempotent: the items are a function of resolved records, so a redelivered
        job finds them kept and re-publishes only the first window's unresolved items."""
        run_id, count = job.run_id, len(items)
        if await self.store.get_items(run_id, job.step_id, count - 1, count):
            # Expanded before (the last item is kept last): only the unresolved ones.
            jobs = first_jobs(job, node, count)
            resolved: set[str] = set()
            for first in range(0, len(jobs), PAGE):
                page = [j.step_id for j in jobs[first : first + PAGE]]
                resolved.update(await self.store.get_steps(run_id, page))
            return [j for j in jobs if j.step_id not in resolved]
        await self.store.put_items(run_id, job.step_id, 0, items)
        event = StepWaiting(at=self.now(), step_id=job.step_id, node=node.id, items=count)
        await self.store.append_event(run_id, event)
        return first_jobs(job, node, count)

    def completion(
        self, node: CompiledNode, job: Job, output: list[Any], run_input: Any
    ) -> outcomes.Completion:
        """The foreach step's resolution with the list of item outputs (or ``[]``)."""
        now = self.now()
        outcomes.check_size(output, f"output of foreach {job.step_id}", self.max_value_bytes)
        routing = decide(node, job.iteration, output, None, run_input, {})
        return outcomes.completion(
            node, job, output, None, routing, {}, started=now, now=now, worker=self.worker
        )

    async def successors(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        *,
        resolved: Container[str] = (),
        check: bool = True,
    ) -> list[Job]:
        """What follows a resolved item: the next item of its chain, its arrival at
        the node's gather join and, when that fires, the node's own resolution and
        the jobs of its successors. ``check``: leave out a next item that is resolved
        already (a re-drive), so that re-driving one item does not cascade."""
        assert job.index is not None and node.foreach is not None
        run_id, count, window = header.run_id, job.items, node.foreach.window
        parent = StepId.parse(job.step_id).parent
        jobs: list[Job] = []
        nxt = job.index + window if window is not None else count
        if nxt < count:
            nxt_id = item_step(parent, nxt)
            again = check and (
                nxt_id in resolved or bool(await self.store.get_steps(run_id, [nxt_id]))
            )
            if not again:
                jobs.append(item_job(parent_job(job), nxt, count))
        decision = await self.coordinator.arrive(
            run_id, gather_key(parent), job.step_id, True, count, "all"
        )
        if decision is JoinDecision.RUN and parent not in resolved:
            jobs.extend(await self.complete(reg, header, node, parent_job(job), count))
        return jobs

    async def complete(
        self, reg: Registry, header: RunHeader, node: CompiledNode, parent: Job, count: int
    ) -> list[Job]:
        """Resolve the foreach step with its items' outputs (read a page at a time);
        first resolution wins, so a repeat returns the same record."""
        output: list[Any] = []
        for first in range(0, count, PAGE):
            ids = [item_step(parent.step_id, i) for i in range(first, min(first + PAGE, count))]
            records = await self.store.get_steps(parent.run_id, ids)
            output.extend(records[sid].output for sid in ids)
        try:
            done = self.completion(node, parent, output, header.input)
        except LegatoError as exc:  # the list is too large, or a condition failed
            error = f"step {parent.step_id} failed: {outcomes.error_message(exc)}"
            await self.router.ending.fail(parent.run_id, error, parent.step_id)
            return []
        record = await self.store.resolve_step(
            parent.run_id, parent.step_id, done.record, done.event
        )
        return await self.router.successors(reg, header, node, parent.iteration, record)
