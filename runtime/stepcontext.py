"""Building a step's ``ctx``: its input, and the run context it may read.

A step reads only what it needs: the records of its input steps (read with
the step's first read) and the writes of the context keys its expressions
name; ``ctx.context.get`` loads any other key on demand. Which write of a key
a step sees is the rule of ``legato.runtime.context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legato.runtime.context import visible_value
from legato.runtime.errors import NonRetryableError
from legato.runtime.inputs import build_input
from legato.runtime.nodectx import MISSING, RunContext, StepContext
from legato.runtime.ports import RunStore
from legato.runtime.registry import CompiledNode, Registry
from legato.runtime.steps import StepId
from legato.schemas import Job, RunHeader, StepRecord


class Contexts:
    def __init__(self, store: RunStore) -> None:
        self.store = store

    async def values(
        self, reg: Registry, run_id: str, node: CompiledNode, iteration: int, keys: tuple[str, ...]
    ) -> dict[str, Any]:
        """The values of ``keys`` that a step of ``node`` at ``iteration`` sees."""
        if not keys:
            return {}
        writes = await self.store.get_context(run_id, keys)
        out = {}
        for key in keys:
            v = visible_value(reg, node.id, iteration, writes.get(key, ()))
            if v is not MISSING:
                out[key] = v
        return out

    async def make(
        self,
        reg: Registry,
        header: RunHeader,
        node: CompiledNode,
        job: Job,
        records: Mapping[str, StepRecord],
        *,
        runs: CompiledNode | None = None,
        error: str | None = None,
    ) -> StepContext:
        """The ``ctx`` of ``job``'s step; ``runs`` is the node whose code runs (a
        fallback stands in for ``node`` with the same input, and gets ``error``)."""
        run_id, it = header.run_id, job.iteration
        if job.index is not None and runs is None:  # a foreach item: its own item only
            parent = StepId.parse(job.step_id).parent
            got = await self.store.get_items(run_id, parent, job.index, job.index + 1)
            if not got:
                raise NonRetryableError(f"item {job.index} of {parent} was not kept")
            value = got[0]
        else:
            ctx_values = (
                await self.values(reg, run_id, node, it, node.input_keys) if node.input_keys else {}
            )
            value = build_input(reg, node, job, header.input, records, ctx_values)

        async def loader(key: str) -> Any:
            writes = (await self.store.get_context(run_id, (key,))).get(key, [])
            return visible_value(reg, node.id, it, writes)

        impl = runs or node
        return StepContext(
            input=value,
            params=impl.params,
            run_id=run_id,
            step_id=job.step_id,
            node_id=impl.id,
            attempt=1 if runs is not None else job.attempt,
            iteration=it,
            context=RunContext(loader),
            error=error,
            index=job.index if runs is None else None,
        )

    async def route_values(
        self, reg: Registry, header: RunHeader, node: CompiledNode, job: Job, ctx: StepContext
    ) -> dict[str, Any]:
        """The context values the node's outgoing conditions read, the step's own
        writes included."""
        if not node.route_keys:
            return {}
        out = await self.values(reg, header.run_id, node, job.iteration, node.route_keys)
        out.update({k: v for k, v in ctx.context.writes.items() if k in node.route_keys})
        return out
