"""Every Redis key Legato writes, in one place. All keys carry the configured
prefix and a TTL: Redis holds only state that the history can rebuild."""

from __future__ import annotations

JOIN_TTL_SECONDS = 7 * 24 * 3600  # joins of a run that outlives this are rebuilt by the reconciler
FENCE_TTL_SECONDS = 30 * 24 * 3600  # fencing counters must outlive any lease by far


def join(prefix: str, run_id: str, step_id: str) -> str:
    """Hash of the arrivals at one step (see join.lua)."""
    return f"{prefix}join:{{{run_id}}}:{step_id}"


def lease(prefix: str, run_id: str, step_id: str) -> str:
    """String ``owner|token`` with the lease's TTL."""
    return f"{prefix}lease:{{{run_id}}}:{step_id}"


def fence(prefix: str, run_id: str, step_id: str) -> str:
    """Counter of the step's fencing tokens."""
    return f"{prefix}fence:{{{run_id}}}:{step_id}"
