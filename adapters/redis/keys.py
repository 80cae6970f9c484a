"""Every Redis key Legato writes, in one place. All keys carry the configured
prefix and (but for ``epoch`` and ``born``) a TTL: Redis holds only state that the
history can rebuild. The run id is a hash tag (``{run_id}``), so a run's keys share
one Redis Cluster slot and one script may touch several of them (but the lease
script also reads ``born``)."""

from __future__ import annotations

# Joins of a run that outlives this are rebuilt by the reconciler from the history.
JOIN_TTL_SECONDS = 7 * 24 * 3600
# Fencing counters must outlive any lease (and any paused worker) by far; a finished
# run's counters are deleted by forget_run, so this bounds only abandoned runs.
FENCE_TTL_SECONDS = 7 * 24 * 3600
# The set of worker ids outlives its members' heartbeats (each worker key has the TTL
# its worker gives); an id whose key expired is dropped when the workers are listed.
WORKERS_TTL_SECONDS = 24 * 3600


def join(prefix: str, run_id: str, step_id: str) -> str:
    """Hash of the arrivals at one step (see join.lua)."""
    return f"{prefix}join:{{{run_id}}}:{step_id}"


def lease(prefix: str, run_id: str, step_id: str) -> str:
    """String ``owner|token`` with the lease's TTL."""
    return f"{prefix}lease:{{{run_id}}}:{step_id}"


def fence(prefix: str, run_id: str, step_id: str) -> str:
    """Counter of the step's fencing tokens."""
    return f"{prefix}fence:{{{run_id}}}:{step_id}"


def run_keys(prefix: str, run_id: str) -> str:
    """Set of the run's join and fence keys, so ``forget_run`` drops them at once."""
    return f"{prefix}run:{{{run_id}}}"


def epoch(prefix: str) -> str:
    """String naming the current generation of Legato's Redis data (no TTL: its loss
    is how workers learn that Redis lost everything, and repair join state)."""
    return f"{prefix}epoch"


def born(prefix: str) -> str:
    """String: when the current generation of Legato's Redis data began (Redis
    milliseconds; no TTL). For one lease's time after that, a step whose counter is
    missing is taken only if it was never claimed (see lease.lua): a worker running
    it since before the data was lost re-establishes its lease first. Like ``epoch``
    it has no hash tag, so the lease script needs one Redis node (not Cluster)."""
    return f"{prefix}born"


def workers(prefix: str) -> str:
    """Set of the ids of workers that announced themselves (``{workers}`` hash tag:
    one Redis Cluster slot for every worker key, so one MGET reads them all)."""
    return f"{prefix}workers:{{workers}}"


def worker(prefix: str, worker_id: str) -> str:
    """String: a worker's last heartbeat (``WorkerInfo`` as JSON), with its TTL."""
    return f"{prefix}worker:{{workers}}:{worker_id}"
