"""In-process RunStore and BlueprintStore: the embedded backend's history.

Records are kept encoded (msgpack), as a real store keeps them: a node can
never mutate history through an object it was handed, and anything that would
not survive the distributed backend fails here too.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from legato.adapters.memory.runindex import MemoryRunIndex
from legato.adapters.memory.schedules import MemorySchedules
from legato.runtime.clock import SYSTEM_CLOCK, Clock
from legato.runtime.errors import FencingError, RunNotFoundError, SignalTakenError
from legato.runtime.pausing import held_key
from legato.runtime.ports import (
    ActivePage,
    BlueprintInfo,
    RunPage,
    RunQuery,
    RunSummary,
    StepView,
)
from legato.runtime.runindex import moment, started_ms
from legato.runtime.steps import StepId
from legato.runtime.versions import version_key
from legato.schemas import (
    TERMINAL_STATUSES,
    Blueprint,
    ContextWrite,
    Event,
    Job,
    RunHeader,
    RunRetried,
    RunStarted,
    SignalReceived,
    StepCompleted,
    StepFailed,
    StepRecord,
    StepSkipped,
)

_enc = msgspec.msgpack.Encoder()
_dec_event = msgspec.msgpack.Decoder(Event)
_dec_record = msgspec.msgpack.Decoder(StepRecord)
_dec_any = msgspec.msgpack.Decoder()
_dec_job = msgspec.msgpack.Decoder(Job)
_dec_failed = msgspec.msgpack.Decoder(StepFailed)


@dataclass
class _Run:
    header: RunHeader
    events: list[bytes] = field(default_factory=list)
    steps: dict[str, bytes] = field(default_factory=dict)
    context: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    signals: dict[str, dict[str, bytes]] = field(default_factory=dict)  # name -> id -> data
    consumed: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, id) -> step
    dedupe: set[tuple[str, str]] = field(default_factory=set)
    waiters: dict[str, dict[str, bytes]] = field(default_factory=dict)
    claims: dict[str, int] = field(default_factory=dict)  # step -> newest token claimed
    failures: dict[str, bytes] = field(default_factory=dict)  # step -> last failed attempt
    ended_at: float | None = None
    held: dict[str, bytes] = field(default_factory=dict)  # jobs kept while paused
    items: dict[str, dict[int, bytes]] = field(default_factory=dict)  # foreach step -> items


class MemoryRunStore(MemorySchedules):
    """Runs kept in a dict; safe for one event loop.

    ``retention``: seconds a finished run is kept after it ended (None: for ever);
    an expired run is gone from the index and its history at once, as in Cassandra.
    """

    def __init__(self, *, retention: float | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._runs: dict[str, _Run] = {}
        self._blueprints: dict[tuple[str, str], bytes] = {}
        self._schedules: dict[str, tuple[bytes, float | None]] = {}
        self._blueprint_info: dict[tuple[str, str], BlueprintInfo] = {}
        self._active: dict[str, int] = {}  # running runs -> their place in the index
        self._event_waiters: dict[tuple[str, str], dict[tuple[str, str], bytes]] = {}
        self._retained: dict[tuple[str, str], dict[str, tuple[float, bytes]]] = {}
        self._next = 0
        self._index = MemoryRunIndex()
        self._retention = retention
        self._clock = clock
        self._expiry: list[tuple[float, str]] = []  # (expires at, run id), a heap

    def _expire(self) -> None:
        now = self._clock.now()
        while self._expiry and self._expiry[0][0] <= now:
            _, run_id = heapq.heappop(self._expiry)
            run = self._runs.pop(run_id, None)
            if run is not None:
                self._index.remove(run.header)

    async def probe(self) -> str | None:
        return None

    async def close(self) -> None:
        return None

    def _run(self, run_id: str) -> _Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise RunNotFoundError(f"run {run_id!r} does not exist") from None

    async def create_run(self, header: RunHeader, event: RunStarted) -> bool:
        self._expire()
        if header.run_id in self._runs:
            return False
        run = _Run(header)
        run.events.append(_enc.encode(event))
        self._runs[header.run_id] = run
        self._next += 1
        self._active[header.run_id] = self._next
        self._index.add(header)
        return True

    async def get_run(self, run_id: str) -> RunHeader | None:
        self._expire()
        run = self._runs.get(run_id)
        return run.header if run is not None else None

    async def get_steps(self, run_id: str, step_ids: Sequence[str]) -> dict[str, StepRecord]:
        steps = self._run(run_id).steps
        return {s: _dec_record.decode(steps[s]) for s in step_ids if s in steps}

    async def read_step(
        self, run_id: str, step_id: str, inputs: Sequence[str], *, claim: int | None = None
    ) -> StepView:
        run = self._runs.get(run_id)
        if run is None:
            return StepView(None, None, {}, None)
        claimed = step_id in run.claims
        if claim is not None:
            run.claims[step_id] = max(claim, run.claims.get(step_id, claim))
        raw = run.steps.get(step_id)
        failed = run.failures.get(step_id)
        return StepView(
            run.header,
            _dec_record.decode(raw) if raw is not None else None,
            await self.get_steps(run_id, inputs),
            _dec_failed.decode(failed) if failed is not None else None,
            claimed,
        )

    def _check(self, run: _Run, step_id: str, fence: int | None) -> None:
        if fence is not None and run.claims.get(step_id) != fence:
            raise FencingError(f"stale lease token {fence} for {run.header.run_id}/{step_id}")

    async def claim_step(self, run_id: str, step_id: str, fence: int) -> None:
        claims = self._run(run_id).claims
        claims[step_id] = max(fence, claims.get(step_id, fence))

    async def get_context(self, run_id: str, keys: Sequence[str]) -> dict[str, list[ContextWrite]]:
        ctx = self._run(run_id).context
        return {
            k: [ContextWrite(k, sid, _dec_any.decode(v)) for sid, v in ctx[k]]
            for k in keys
            if k in ctx
        }

    async def resolve_step(
        self,
        run_id: str,
        step_id: str,
        record: StepRecord,
        event: StepCompleted | StepSkipped,
        context: Sequence[ContextWrite] = (),
        fence: int | None = None,
        consume: tuple[str, str] | None = None,
    ) -> StepRecord:
        run = self._run(run_id)
        existing = run.steps.get(step_id)
        if existing is not None:
            return _dec_record.decode(existing)
        self._check(run, step_id, fence)
        if consume is not None:
            taken = run.consumed.get(consume)
            if taken is not None:
                raise SignalTakenError(f"signal {consume[0]!r} {consume[1]} went to {taken}")
            run.consumed[consume] = step_id
            run.waiters.get(consume[0], {}).pop(step_id, None)
        encoded = _enc.encode(record)
        writes = [(w.key, w.step_id, _enc.encode(w.value)) for w in context]
        run.steps[step_id] = encoded
        run.events.append(_enc.encode(event))
        run.header = msgspec.structs.replace(run.header, updated_at=event.at)
        for key, sid, value in writes:
            run.context.setdefault(key, []).append((sid, value))
        return record  # kept encoded; the caller's record is the one it routes by

    async def record_failure(
        self, run_id: str, event: StepFailed, fence: int | None = None
    ) -> None:
        run = self._run(run_id)
        self._check(run, event.step_id, fence)
        encoded = _enc.encode(event)
        run.events.append(encoded)
        if StepId.parse(event.step_id).node == event.node:  # not a fallback's failure
            run.failures[event.step_id] = encoded
        run.header = msgspec.structs.replace(run.header, updated_at=event.at)

    async def append_event(self, run_id: str, event: Event) -> None:
        self._run(run_id).events.append(_enc.encode(event))

    async def put_signal(
        self, run_id: str, name: str, data: Any, event: SignalReceived, dedupe: str | None = None
    ) -> str | None:
        run = self._run(run_id)
        if dedupe is not None:
            if (name, dedupe) in run.dedupe:
                return None
            run.dedupe.add((name, dedupe))
        self._next += 1
        sid = f"{self._next:020d}"
        run.signals.setdefault(name, {})[sid] = _enc.encode(data)
        run.events.append(_enc.encode(msgspec.structs.replace(event, id=sid)))
        return sid

    async def next_signal(self, run_id: str, name: str) -> tuple[str, Any] | None:
        run = self._run(run_id)
        for sid, raw in run.signals.get(name, {}).items():  # in insertion (= id) order
            if (name, sid) not in run.consumed:
                return sid, _dec_any.decode(raw)
        return None

    async def put_items(self, run_id: str, step_id: str, start: int, items: Sequence[Any]) -> None:
        kept = self._run(run_id).items.setdefault(step_id, {})
        for i, item in enumerate(items, start):
            kept.setdefault(i, _enc.encode(item))

    async def get_items(self, run_id: str, step_id: str, start: int, stop: int) -> list[Any]:
        kept = self._run(run_id).items.get(step_id, {})
        return [_dec_any.decode(kept[i]) for i in range(start, stop) if i in kept]

    async def add_waiter(self, run_id: str, name: str, job: Job) -> None:
        self._run(run_id).waiters.setdefault(name, {})[job.step_id] = _enc.encode(job)

    async def get_waiters(self, run_id: str, name: str) -> list[Job]:
        waiting = self._run(run_id).waiters.get(name, {})
        return [_dec_job.decode(raw) for raw in waiting.values()]

    async def add_event_waiter(self, name: str, key: str, job: Job) -> None:
        waiting = self._event_waiters.setdefault((name, key), {})
        waiting[(job.run_id, job.step_id)] = _enc.encode(job)

    async def remove_event_waiter(self, name: str, key: str, run_id: str, step_id: str) -> None:
        self._event_waiters.get((name, key), {}).pop((run_id, step_id), None)

    async def event_waiters(self, name: str, key: str) -> list[Job]:
        return [_dec_job.decode(raw) for raw in self._event_waiters.get((name, key), {}).values()]

    async def retain_event(
        self, name: str, key: str, event_id: str, data: Any, until: float
    ) -> None:
        self._retained.setdefault((name, key), {})[event_id] = (until, _enc.encode(data))

    async def retained_events(self, name: str, key: str, now: float) -> list[tuple[str, Any]]:
        kept = self._retained.get((name, key), {})
        for eid in [e for e, (until, _) in kept.items() if until <= now]:
            del kept[eid]  # expired
        return [(eid, _dec_any.decode(raw)) for eid, (_, raw) in sorted(kept.items())]

    async def finish_run(
        self,
        run_id: str,
        status: str,
        event: Event,
        error: str | None,
        fence: tuple[str, int] | None = None,
    ) -> bool:
        run = self._run(run_id)
        if run.header.status not in ("running", "paused"):
            return False
        assert status in TERMINAL_STATUSES, status
        if fence is not None:
            self._check(run, *fence)
        self._index.move(run.header, status)
        run.ended_at = event.at
        if self._retention is not None:
            heapq.heappush(self._expiry, (event.at + self._retention, run_id))
        run.header = msgspec.structs.replace(
            run.header,
            status=status,
            error=error,
            updated_at=event.at,
        )
        run.events.append(_enc.encode(event))
        self._active.pop(run_id, None)
        run.finished.set()
        return True

    async def set_status(self, run_id: str, expected: str, status: str, event: Event) -> bool:
        run = self._run(run_id)
        if run.header.status != expected:
            return False
        assert {expected, status} == {"running", "paused"}, (expected, status)
        run.header = msgspec.structs.replace(run.header, status=status, updated_at=event.at)
        run.events.append(_enc.encode(event))
        return True

    async def reopen_run(
        self,
        run_id: str,
        expected: str,
        event: RunRetried,
        context: Sequence[tuple[str, str]] = (),
    ) -> bool:
        run = self._run(run_id)
        if run.header.status != expected or expected not in TERMINAL_STATUSES:
            return False
        for sid in event.reset:
            run.steps.pop(sid, None)
            run.failures.pop(sid, None)
        for key, sid in context:
            kept = [(s, v) for s, v in run.context.get(key, []) if s != sid]
            if kept:
                run.context[key] = kept
            else:
                run.context.pop(key, None)
        run.header = msgspec.structs.replace(
            run.header, status="running", error=None, updated_at=event.at
        )
        run.events.append(_enc.encode(event))
        run.finished = asyncio.Event()
        self._next += 1
        self._active[run_id] = self._next
        return True

    async def hold_job(self, run_id: str, job: Job) -> None:
        self._run(run_id).held[held_key(job)] = _enc.encode(job)

    async def held_jobs(self, run_id: str) -> list[Job]:
        return [_dec_job.decode(raw) for raw in self._run(run_id).held.values()]

    async def drop_held(self, run_id: str, jobs: Sequence[Job]) -> None:
        held = self._run(run_id).held
        for job in jobs:
            held.pop(held_key(job), None)

    async def history(self, run_id: str) -> list[Event]:
        return [_dec_event.decode(e) for e in self._run(run_id).events]

    async def all_steps(self, run_id: str) -> dict[str, StepRecord]:
        return {s: _dec_record.decode(v) for s, v in self._run(run_id).steps.items()}

    async def list_active(self, limit: int = 1000, after: str | None = None) -> ActivePage:
        start = int(after) if after else 0
        out: list[RunHeader] = []
        for run_id, place in self._active.items():
            if place <= start or self._runs[run_id].header.status != "running":
                continue
            if len(out) >= limit:
                return ActivePage(out, str(start))
            out.append(self._runs[run_id].header)
            start = place
        return ActivePage(out)

    async def list_runs(self, query: RunQuery) -> RunPage:
        self._expire()
        return self._index.page(query, self._summary)

    def _summary(self, run_id: str) -> RunSummary:
        run = self._runs[run_id]
        h = run.header
        ended = moment(started_ms(run.ended_at)) if run.ended_at is not None else None
        started = moment(started_ms(h.created_at))
        return RunSummary(run_id, h.blueprint_id, h.version, h.status, started, ended)

    async def park(self, run_id: str, progress_at: float, until: float | None) -> None:
        run = self._run(run_id)
        if run.header.status == "running":
            run.header = msgspec.structs.replace(
                run.header, parked_at=progress_at, parked_until=until
            )

    async def wait_finished(self, run_id: str, timeout: float | None = None) -> RunHeader:
        run = self._run(run_id)
        await asyncio.wait_for(run.finished.wait(), timeout)
        return run.header

    # -- BlueprintStore ------------------------------------------------------------------

    async def put_blueprint(self, blueprint: Blueprint) -> None:
        key = (blueprint.id, blueprint.version)
        if key not in self._blueprints:
            self._blueprints[key] = _enc.encode(blueprint)
            self._blueprint_info[key] = BlueprintInfo(*key, True, time.time())

    async def get_blueprint(self, blueprint_id: str, version: str) -> Blueprint | None:
        raw = self._blueprints.get((blueprint_id, version))
        return msgspec.msgpack.decode(raw, type=Blueprint) if raw is not None else None

    async def list_blueprints(self, blueprint_id: str | None = None) -> list[BlueprintInfo]:
        found = [
            info
            for info in self._blueprint_info.values()
            if blueprint_id is None or info.id == blueprint_id
        ]
        return sorted(found, key=lambda i: (i.id, version_key(i.version)))

    async def set_blueprint_active(self, blueprint_id: str, version: str, active: bool) -> bool:
        info = self._blueprint_info.get((blueprint_id, version))
        if info is None:
            return False
        self._blueprint_info[(blueprint_id, version)] = BlueprintInfo(
            blueprint_id, version, active, info.registered_at
        )
        return True


def decode_value(raw: bytes) -> Any:
    return _dec_any.decode(raw)
