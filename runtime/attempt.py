"""One attempt of a step: build ``ctx``, run the node (or its fallback, or a wait)
under the step's lease, and say what came of it, as a value the pipeline records.

Nothing here writes the step's outcome; an attempt only reads its inputs and,
for waits and timed steps, sets durable timers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from legato.runtime import metrics, outcomes, waits
from legato.runtime.clock import Clock
from legato.runtime.errors import BackendUnavailableError, LeaseLostError, StepCancelled
from legato.runtime.lease import Holding, Leases
from legato.runtime.ports import RunStore, Timers
from legato.runtime.registry import CompiledNode, Registry
from legato.runtime.routing import decide
from legato.runtime.stepcontext import Contexts
from legato.runtime.tracing import stamp
from legato.schemas import Job, RunHeader, StepRecord


@dataclass(frozen=True, slots=True)
class Done:
    completion: outcomes.Completion


@dataclass(frozen=True, slots=True)
class Failed:
    error: Exception


Outcome = Done | Failed | waits.Parked


class Attempts:
    def __init__(
        self,
        store: RunStore,
        timers: Timers,
        clock: Clock,
        leases: Leases,
        *,
        worker_id: str,
        max_value_bytes: int,
    ) -> None:
        self.store = store
        self.timers = timers
        self.clock = clock
        self.leases = leases
        self.contexts = Contexts(store)
        self.worker_id = worker_id
        self.max_value_bytes = max_value_bytes

    async def run(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        records: Mapping[str, StepRecord],
        holding: Holding,
        *,
        fallback: CompiledNode | None = None,
        error: str | None = None,
    ) -> Outcome:
        """Run ``node``'s step (``fallback``'s code in its place, given ``error``).

        Raises ``StepCancelled`` (the run ended), ``LeaseLostError`` and
        ``BackendUnavailableError`` (the job is handled again); any other error of
        the node, its input or its routing is the outcome ``Failed``.
        """
        started = self.clock.now()
        impl = fallback or node
        metrics.step_started(job.blueprint, impl.id)
        try:
            ctx = await self.contexts.make(
                reg, header, node, job, records, runs=fallback, error=error
            )
            if impl.impl.kind in ("signal", "sleep"):
                raw = await waits.wait(self.store, started, impl, job, ctx.input)
                if isinstance(raw, waits.Parked):
                    return raw
            else:
                if impl.timeout is not None and fallback is None:
                    await self.arm_watchdog(impl, job, started)
                raw = await self.leases.guard(holding, ctx, impl.impl.call(ctx, impl.timeout))
            output, action = outcomes.split_result(raw)
            outcomes.check_values(output, ctx.context.writes, self.max_value_bytes)
            route_ctx = (
                await self.contexts.route_values(reg, header, node, job, ctx)
                if node.route_keys
                else {}
            )
            routing = decide(node, job.iteration, output, action, header.input, route_ctx)
        except (StepCancelled, LeaseLostError, BackendUnavailableError):
            raise
        except Exception as exc:
            metrics.step_duration(job.blueprint, impl.id, self.clock.now() - started, "failed")
            return Failed(exc)
        return Done(
            outcomes.completion(
                node,
                job,
                output,
                action,
                routing,
                ctx.context.writes,
                started=started,
                now=self.clock.now(),
                worker=self.worker_id,
                fallback=fallback.id if fallback is not None else None,
            )
        )

    async def arm_watchdog(self, node: CompiledNode, job: Job, started: float) -> None:
        """A durable timer that checks on a timed step even if this worker dies."""
        assert node.timeout is not None
        # By then a dead worker's lease has expired (it was renewed at most at its death).
        at = started + node.timeout + self.leases.ttl + 0.5
        await self.timers.schedule(at, stamp(msgspec.structs.replace(job, watchdog=True)))
