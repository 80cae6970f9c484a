"""The step executor: the one code path that runs a job, embedded or distributed.

``handle(job)`` is idempotent. A job whose step is already resolved does not
run the node again; it only re-drives the successors (joins count distinct
predecessors, so nothing fires twice). Effects are ordered so that a crash at
any point is repaired by redelivering the job: the step's resolution is
written first (one atomic append), then arrivals, then successor jobs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections.abc import Callable, Container, Mapping
from typing import Any, NamedTuple, Protocol

import msgspec

from legato.runtime import metrics, waits
from legato.runtime.context import _MISSING, RunContext, StepContext, visible_value
from legato.runtime.errors import (
    ExpressionError,
    FencingError,
    LoopLimitError,
    OutputTooLargeError,
    RunNotFoundError,
    StepError,
    StepTimeoutError,
)
from legato.runtime.guard import Guards, StepCancelled
from legato.runtime.logcontext import job_scope
from legato.runtime.nodes import Result
from legato.runtime.ports import Coordinator, JobBus, JoinDecision, RunStore, Timers
from legato.runtime.registry import END_STEP, CompiledEdge, CompiledNode, Registry
from legato.schemas import (
    ContextWrite,
    Job,
    RunCompleted,
    RunFailed,
    RunHeader,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)

DEFAULT_MAX_VALUE_BYTES = 1 << 20
log = logging.getLogger("legato.executor")
_encode = msgspec.msgpack.Encoder().encode


class Routing(NamedTuple):
    """Which edges a completion did not take (usually few: a fan-out takes all), and
    whether a loop's last node went back to the loop's start."""

    skipped: tuple[str, ...]
    looped: bool = False


class RegistrySource(Protocol):
    async def get(self, blueprint_id: str, version: str) -> Registry:
        """The compiled registry; raises ``UnknownBlueprintError`` if unavailable."""


def backoff_delay(node: CompiledNode, attempt: int, rng: Callable[[], float]) -> float:
    r = node.retry
    if r is None:
        return 0.0
    base = min(r.max_delay, r.initial_delay * r.multiplier ** (attempt - 1))
    return float(max(0.0, base * (1 + r.jitter * (2 * rng() - 1))))


class Executor:
    """Runs jobs against the ports. Holds no per-run state."""

    def __init__(
        self,
        *,
        store: RunStore,
        coordinator: Coordinator,
        bus: JobBus,
        timers: Timers,
        registries: RegistrySource,
        worker_id: str = "embedded",
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        lease_ttl: float = 30.0,
        heartbeat_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.bus = bus
        self.timers = timers
        self.registries = registries
        self.worker_id = worker_id
        self.max_value_bytes = max_value_bytes
        self.lease_ttl = lease_ttl
        self._handled = 0
        self.guards = Guards(store, coordinator, interval=heartbeat_interval, lease_ttl=lease_ttl)
        self.clock = clock
        self.rng = rng

    # -- entry point ---------------------------------------------------------------------

    async def handle(self, job: Job) -> None:
        metrics.in_flight(1)
        try:
            with job_scope(job):
                await self._handle(job)
        finally:
            metrics.in_flight(-1)

    async def _handle(self, job: Job) -> None:
        reg = await self.registries.get(job.blueprint, job.version)
        if job.watchdog:
            await self.watch(reg, job)
            return
        node = reg.nodes[job.node]
        self._handled += 1
        owner = f"{self.worker_id}/{self._handled}"  # each handling owns its lease alone
        token = await self.coordinator.acquire_lease(job.run_id, job.step_id, owner, self.lease_ttl)
        # Read after taking the lease: a duplicate that read before it would run the
        # step again if the first handler resolved and released in between. One read
        # gives the header, this step's record and (if it is to run) its inputs.
        try:
            wanted = [job.step_id]
            if token is not None:
                wanted += [s for s in self.input_steps(reg, node, job) if s != job.step_id]
            header, records = await self.store.get_run_steps(job.run_id, wanted)
            if header is None:
                raise RunNotFoundError(f"run {job.run_id!r} does not exist")
        except BaseException:
            if token is not None:
                await self.coordinator.release_lease(job.run_id, job.step_id, token)
            raise
        done = records.get(job.step_id)
        if header.status != "running":
            if token is not None:
                await self.coordinator.release_lease(job.run_id, job.step_id, token)
            return
        if token is None:
            if done is not None:  # resolved already: re-drive its successors (idempotent)
                await self.route(reg, header, node, job.iteration, done)
            # Otherwise another worker runs it now; if that worker dies, its lease
            # expires and the reconciler resumes the step.
            return
        record: StepRecord | None = None
        try:
            record = done or await self.execute(reg, header, node, job, token, records)
        except FencingError:
            # Our lease expired and another worker took the step over: its result counts.
            log.warning(
                "lease of %s/%s was taken over; dropping this result", job.run_id, job.step_id
            )
            return
        finally:
            # A resolved step's lease is left to expire: whoever handles the step next
            # reads its record, lease or not. Released otherwise (a retry, a wait, an
            # error), so the step's next attempt can take it at once.
            if record is None:
                await self.coordinator.release_lease(job.run_id, job.step_id, token)
        if record is not None:
            await self.route(reg, header, node, job.iteration, record)

    async def watch(self, reg: Registry, job: Job) -> None:
        """A timed step's watchdog: the step should have ended (its timeout and a
        lease's time have passed). If it is unresolved in a running run, its worker
        may have died: resume the run from its history, which leaves a step whose
        lease is live (a later attempt running) or whose retry timer is pending alone."""
        header, steps = await self.store.get_run_steps(job.run_id, (job.step_id,))
        if header is None:
            raise RunNotFoundError(f"run {job.run_id!r} does not exist")
        if header.status != "running" or job.step_id in steps:
            return
        from legato.runtime.resume import resume_run  # resume_run drives this executor

        resumed = await resume_run(self, header, reg, now=self.clock())
        if resumed.jobs:
            log.warning("watchdog of %s/%s resumed %d steps", job.run_id, job.step_id, resumed.jobs)

    async def arm_watchdog(self, node: CompiledNode, job: Job, started: float) -> None:
        """A durable timer that checks on a timed step even if this worker dies."""
        assert node.timeout is not None
        # By then a dead worker's lease has expired (it was renewed at most at its death).
        at = started + node.timeout + self.lease_ttl + 0.5
        await self.timers.schedule(at, msgspec.structs.replace(job, watchdog=True))

    # -- running a step ------------------------------------------------------------------

    async def execute(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        token: int | None,
        records: Mapping[str, StepRecord] | None = None,
    ) -> StepRecord | None:
        """Run the step; ``records`` holds its input steps' records if already read."""
        started = self.clock()
        metrics.step_started(job.blueprint, node.id)
        ctx: StepContext | None = None
        try:
            ctx = await self.make_context(reg, header, node, job, records)
            if node.impl.kind in ("signal", "sleep"):
                raw = await waits.wait(self, header, node, job, ctx)
                if raw is waits.WAITING:
                    return None
            else:
                if node.timeout is not None:
                    await self.arm_watchdog(node, job, started)
                raw = await self.call(node, ctx, token)
            output, action = (raw.output, raw.action) if isinstance(raw, Result) else (raw, None)
            self.check_size(output, "output")
            for key, value in ctx.context.writes.items():
                self.check_size(value, f"context value {key!r}")
            routing = await self.decide(reg, header, node, job.iteration, output, action, ctx)
        except StepCancelled:
            return None  # the run ended meanwhile: nothing to record
        except Exception as exc:
            metrics.step_duration(node.id, self.clock() - started, "failed")
            return await self.fail(reg, header, node, job, exc, ctx, token)
        return await self.complete(header, node, job, output, action, routing, ctx, started, token)

    async def complete(
        self,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        output: Any,
        action: str | None,
        routing: Routing,
        ctx: StepContext,
        started: float,
        token: int | None,
        fallback: str | None = None,
    ) -> StepRecord:
        writes = ctx.context.writes
        record = StepRecord(
            "done", node.id, output, action, routing.skipped, routing.looped, job.attempt, fallback
        )
        event = StepCompleted(
            at=self.clock(),
            step_id=job.step_id,
            node=node.id,
            attempt=job.attempt,
            output=output,
            action=action,
            skipped=routing.skipped,
            looped=routing.looped,
            context=writes,
            started_at=started,
            fallback=fallback,
            worker=self.worker_id,
        )
        cws = [ContextWrite(k, job.step_id, v) for k, v in writes.items()] if writes else ()
        done = await self.store.resolve_step(header.run_id, job.step_id, record, event, cws, token)
        metrics.step_completed(job.blueprint, node.id, event.at - started)
        return done

    async def call(self, node: CompiledNode, ctx: StepContext, token: int | None = None) -> Any:
        if node.timeout is None:
            return await self.guards.run(node.impl.call(ctx), ctx, token)
        try:
            return await self.guards.run(
                asyncio.wait_for(node.impl.call(ctx), node.timeout), ctx, token
            )
        except TimeoutError:
            raise StepTimeoutError(f"step {ctx.step_id} timed out after {node.timeout}s") from None

    def check_size(self, value: Any, what: str) -> None:
        try:
            size = len(_encode(value))
        except (TypeError, OverflowError) as exc:
            raise StepError(f"{what} is not serialisable: {exc}", retryable=False) from exc
        if size > self.max_value_bytes:
            raise OutputTooLargeError(
                f"{what} is {size} bytes, over the limit of {self.max_value_bytes} bytes"
            )

    # -- inputs --------------------------------------------------------------------------

    def pred_steps(self, reg: Registry, node: CompiledNode, job: Job) -> dict[str, CompiledEdge]:
        """The predecessor steps whose outputs make this step's input, by step id."""
        it = job.iteration
        if node.loop is not None and node.id == node.loop.head and it > 0:
            tail = reg.nodes[node.loop.tail]
            return {tail.step_id(it - 1): node.loop.back_edge}
        if node.join == "any" and len(node.preds) > 1:
            if job.trigger is None:
                return {}
            trig_node = job.trigger.partition("#")[0]
            return {job.trigger: node.in_edges[trig_node]}
        out = {}
        for p in node.preds:
            pn = reg.nodes[p]
            sid = pn.step_id(it) if pn.loop is not None and pn.loop is node.loop else p
            out[sid] = node.in_edges[p]
        return out

    def ref_steps(self, reg: Registry, node: CompiledNode, iteration: int) -> dict[str, str]:
        """The steps whose outputs the node's ``inputs:`` mapping names, by node id."""
        refs = {}
        for r in node.output_refs:
            rn = reg.nodes[r]
            refs[r] = rn.step_id(iteration) if rn.loop is not None and rn.loop is node.loop else r
        return refs

    def input_steps(self, reg: Registry, node: CompiledNode, job: Job) -> list[str]:
        """Every step whose record the step's input is made of."""
        return _input_ids(self.pred_steps(reg, node, job), self.ref_steps(reg, node, job.iteration))

    async def make_context(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        records: Mapping[str, StepRecord] | None = None,
    ) -> StepContext:
        run_id, it = header.run_id, job.iteration
        preds = self.pred_steps(reg, node, job)
        refs = self.ref_steps(reg, node, it)
        if records is None:
            wanted = _input_ids(preds, refs)
            records = await self.store.get_steps(run_id, wanted) if wanted else {}
        ctx_values = await self.load_context(reg, run_id, node, it, node.input_keys)
        variables = {"input": header.input, "context": ctx_values, "iteration": it}
        if not node.preds and not preds:
            value: Any = header.input
        else:
            parts = {}
            for sid, edge in preds.items():
                rec = records.get(sid)
                if rec is None or rec.status != "done" or edge.target in rec.skipped:
                    continue
                out = rec.output
                if edge.transform is not None:
                    out = edge.transform.evaluate({**variables, "output": out})
                parts[edge.source] = out
            single = len(node.preds) <= 1 or (
                node.loop is not None and node.id == node.loop.head and it > 0
            )
            value = next(iter(parts.values()), None) if single else parts
        if node.inputs is not None:
            outputs = {
                r: records[s].output
                for r, s in refs.items()
                if s in records and records[s].status == "done"
            }
            variables = {**variables, "outputs": outputs}
            if isinstance(node.inputs, Mapping):
                value = {k: x.evaluate(variables) for k, x in node.inputs.items()}
            else:
                value = node.inputs.evaluate(variables)

        async def loader(key: str) -> Any:
            writes = (await self.store.get_context(run_id, (key,))).get(key, [])
            return visible_value(reg, node.id, it, writes)

        return StepContext(
            input=value,
            params=node.params,
            run_id=run_id,
            step_id=job.step_id,
            node_id=node.id,
            attempt=job.attempt,
            iteration=it,
            context=RunContext(loader),
        )

    async def load_context(
        self, reg: Registry, run_id: str, node: CompiledNode, iteration: int, keys: tuple[str, ...]
    ) -> dict[str, Any]:
        if not keys:
            return {}
        writes = await self.store.get_context(run_id, keys)
        out = {}
        for key in keys:
            v = visible_value(reg, node.id, iteration, writes.get(key, ()))
            if v is not _MISSING:
                out[key] = v
        return out

    # -- routing -------------------------------------------------------------------------

    async def decide(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        iteration: int,
        output: Any,
        action: str | None,
        ctx: StepContext,
    ) -> Routing:
        """The targets of the edges this completion takes (decided once, then recorded)."""
        variables: dict[str, Any] | None = None
        if node.route_keys:
            ctx_values = await self.load_context(
                reg, header.run_id, node, iteration, node.route_keys
            )
            ctx_values.update({k: v for k, v in ctx.context.writes.items() if k in node.route_keys})
        else:
            ctx_values = {}
        lp = node.loop
        if lp is not None and lp.tail == node.id:
            variables = {
                "output": output,
                "input": header.input,
                "context": ctx_values,
                "iteration": iteration,
            }
            if _taken(lp.back_edge, action, variables):
                if iteration + 1 >= lp.back_edge.max_iterations:
                    raise LoopLimitError(
                        f"loop {lp.head} -> {lp.tail} reached max_iterations "
                        f"({lp.back_edge.max_iterations})"
                    )
                return Routing((), looped=True)
        skipped = []
        for e in node.out_edges:
            if e.action is not None and e.action != action:
                skipped.append(e.target)
                continue
            if e.condition is not None:
                if variables is None:
                    variables = {
                        "output": output,
                        "input": header.input,
                        "context": ctx_values,
                        "iteration": iteration,
                    }
                if not _truthy(e.condition.evaluate(variables), e.condition.source):
                    skipped.append(e.target)
        return Routing(tuple(skipped))

    async def route(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        iteration: int,
        record: StepRecord,
        *,
        resolved: Container[str] = (),
    ) -> None:
        jobs = await self.route_jobs(reg, header, node, iteration, record, resolved=resolved)
        if jobs:
            await self.bus.publish(jobs)

    async def route_jobs(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        iteration: int,
        record: StepRecord,
        *,
        resolved: Container[str] = (),
    ) -> list[Job]:
        """Deliver the arrivals of a resolved step, skipping dead paths, then enqueue the
        steps that fired (returned, for ``route`` to publish). Idempotent: safe to repeat
        after a crash or redelivery.

        Arrivals are always delivered (that repairs lost join state); steps listed in
        ``resolved`` are neither enqueued nor skipped again (the reconciler's re-drive).
        """
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
                        jobs.append(self.job(reg, run_id, head, it + 1, src))
                    continue
                # The loop exits: its last node is resolved under its plain id too.
                rec = await self.resolve_alias(run_id, n, rec)
                src = n.id
            skipped = frozenset(rec.skipped) if len(rec.skipped) > 4 else rec.skipped
            for e in n.out_edges:
                t = reg.nodes[e.target]
                t_it = it if t.loop is not None and t.loop is n.loop else 0
                taken = rec.status == "done" and e.target not in skipped
                if len(t.preds) == 1:
                    decision = JoinDecision.RUN if taken else JoinDecision.SKIP
                else:
                    decision = await self.coordinator.arrive(
                        run_id, t.step_id(t_it), src, taken, len(t.preds), t.join
                    )
                if t.step_id(t_it) in resolved:
                    continue
                if decision is JoinDecision.RUN:
                    if len(t.preds) > 1:
                        metrics.join_fired(reg.id, t.id)
                    jobs.append(self.job(reg, run_id, t, t_it, src))
                elif decision is JoinDecision.SKIP:
                    work.append((t, t_it, await self.skip(run_id, t, t_it)))
                    metrics.step_skipped(reg.id, t.id)
            if n.ends_run:
                await self.arrive_end(reg, header, src)
        return jobs

    @staticmethod
    def job(reg: Registry, run_id: str, node: CompiledNode, iteration: int, trigger: str) -> Job:
        return Job(
            run_id, node.step_id(iteration), node.id, reg.id, reg.version, iteration, 1, trigger
        )

    async def skip(self, run_id: str, node: CompiledNode, iteration: int) -> StepRecord:
        sid = node.step_id(iteration)
        event = StepSkipped(at=self.clock(), step_id=sid, node=node.id)
        return await self.store.resolve_step(run_id, sid, StepRecord("skipped", node.id), event)

    async def resolve_alias(self, run_id: str, node: CompiledNode, rec: StepRecord) -> StepRecord:
        at = self.clock()
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
        expected = len(reg.end_nodes)
        if expected > 1:
            decision = await self.coordinator.arrive(
                header.run_id, END_STEP, src, True, expected, "all"
            )
            if decision is not JoinDecision.RUN:
                return
        if await self.store.finish_run(
            header.run_id, "completed", RunCompleted(at=self.clock()), None
        ):
            await self.coordinator.forget_run(header.run_id)

    # -- failures ------------------------------------------------------------------------

    async def fail(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        exc: BaseException,
        ctx: StepContext | None,
        token: int | None,
    ) -> StepRecord | None:
        retryable = getattr(exc, "retryable", not isinstance(exc, ExpressionError))
        message = _message(exc)
        run_id = header.run_id
        retry_at = None
        if retryable and job.attempt < node.max_attempts:
            delay = getattr(exc, "next_retry_delay", None)
            if delay is None:
                delay = backoff_delay(node, job.attempt, self.rng)
            retry_at = self.clock() + delay
        failed = StepFailed(
            at=self.clock(),
            step_id=job.step_id,
            node=node.id,
            attempt=job.attempt,
            error=message,
            error_type=type(exc).__name__,
            retry_at=retry_at,
        )
        await self.store.record_failure(run_id, failed)
        metrics.step_failed(job.blueprint, node.id, retried=retry_at is not None)
        if retry_at is not None:
            # A retried wait starts a new wait: its old deadline goes.
            retry = msgspec.structs.replace(job, attempt=job.attempt + 1, deadline=None)
            await self.timers.schedule(retry_at, retry)
            return None
        if node.fallback is not None and ctx is not None:
            record = await self.run_fallback(reg, header, node, job, ctx, message, token)
            if record is not None:
                return record
        await self.fail_run(run_id, f"step {job.step_id} failed: {message}", job.step_id)
        return None

    async def run_fallback(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        ctx: StepContext,
        error: str,
        token: int | None,
    ) -> StepRecord | None:
        fb = reg.nodes[node.fallback]  # type: ignore[index]
        fctx = StepContext(
            input=ctx.input,
            params=fb.params,
            run_id=ctx.run_id,
            step_id=ctx.step_id,
            node_id=fb.id,
            attempt=1,
            iteration=ctx.iteration,
            context=ctx.context,
            error=error,
        )
        started = self.clock()
        try:
            raw = await self.call(fb, fctx, token)
            output, action = (raw.output, raw.action) if isinstance(raw, Result) else (raw, None)
            self.check_size(output, "output")
            routing = await self.decide(reg, header, node, job.iteration, output, action, fctx)
        except StepCancelled:
            return None
        except Exception as exc:
            await self.store.record_failure(
                header.run_id,
                StepFailed(
                    at=self.clock(),
                    step_id=job.step_id,
                    node=fb.id,
                    attempt=1,
                    error=_message(exc),
                    error_type=type(exc).__name__,
                ),
            )
            return None
        return await self.complete(
            header, node, job, output, action, routing, fctx, started, token, fallback=fb.id
        )

    async def fail_run(self, run_id: str, error: str, step_id: str | None) -> None:
        event = RunFailed(at=self.clock(), error=error, step_id=step_id)
        if await self.store.finish_run(run_id, "failed", event, error):
            await self.coordinator.forget_run(run_id)


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, StepError | ExpressionError):
        return text
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {text}{where}"


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


def _input_ids(preds: Mapping[str, Any], refs: Mapping[str, str]) -> list[str]:
    """Predecessor steps, then the other steps ``inputs:`` names."""
    return list(preds) + [s for s in refs.values() if s not in preds]
