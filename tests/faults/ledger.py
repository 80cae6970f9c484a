"""Reading the fault nodes' ledger and checking what it says about executions."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Execution:
    run: str
    step: str
    attempt: int
    pid: int
    start: float
    end: float | None = None
    how: str | None = None  # "ok", "error", "cancelled"; None: no end (a killed worker)


def read(path: Path) -> list[Execution]:
    """Every execution in the ledger, in the order they started."""
    if not path.exists():
        return []
    open_: dict[tuple[str, str, int, int], list[Execution]] = defaultdict(list)
    out: list[Execution] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        key = (r["run"], r["step"], r["attempt"], r["pid"])
        if r["ev"] == "start":
            ex = Execution(r["run"], r["step"], r["attempt"], r["pid"], r["t"])
            open_[key].append(ex)
            out.append(ex)
        elif open_[key]:
            ex = open_[key].pop(0)
            ex.end, ex.how = r["t"], r["how"]
    return out


def started(path: Path) -> int:
    return sum(1 for _ in read(path))


def running(path: Path, steps: tuple[str, ...] = ()) -> list[Execution]:
    """Executions started and not ended (of the given steps, if any)."""
    return [e for e in read(path) if e.end is None and (not steps or e.step in steps)]


@dataclass
class Verdict:
    executions: int = 0
    again: int = 0  # executions of a step attempt that had run before
    again_after_kill: int = 0
    again_after_lost_lease: int = 0


def check(executions: list[Execution], killed: dict[int, float]) -> Verdict:
    """Fail unless each step attempt ran again only where its earlier execution was on
    a killed worker (``killed``: pid -> kill time) or lost its lease (it ended
    cancelled), no two executions of one step attempt overlapped in time, and every
    execution on a live worker ended."""
    verdict = Verdict(executions=len(executions))
    by_step: dict[tuple[str, str, int], list[Execution]] = defaultdict(list)
    for ex in executions:
        assert ex.end is not None or ex.pid in killed, f"never ended on a live worker: {ex}"
        by_step[(ex.run, ex.step, ex.attempt)].append(ex)
    for runs in by_step.values():
        runs.sort(key=lambda e: e.start)
        for earlier, later in itertools.pairwise(runs):
            verdict.again += 1
            if earlier.pid in killed and killed[earlier.pid] <= later.start:
                # Killed mid-step, or after the node returned but before its result
                # was recorded: either way the step's record was not written.
                verdict.again_after_kill += 1
                stopped = killed[earlier.pid] if earlier.end is None else earlier.end
            else:
                assert earlier.how == "cancelled", (
                    f"ran again though its execution was neither killed nor lost its "
                    f"lease: {earlier} then {later}"
                )
                verdict.again_after_lost_lease += 1
                stopped = earlier.end
            assert stopped <= later.start + 0.001, f"overlapping executions: {earlier} {later}"
    return verdict
