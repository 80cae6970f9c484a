"""Load tests on real servers: runs of a shape, then the floor (the servers' own
work for the same steps, without Legato), optionally the Flowcraft peer.

    python bench/load.py [--shape chain|fan|diamond|wide|etl] [--nodes 10]
        [--concurrency 16 | --rate RUNS_PER_S] [--duration 20 | --runs N]
        [--workers K] [--worker-concurrency 64] [--local-concurrency 64]
        [--floor-seconds 10] [--peer] [--plot DIR] [--json] [--config FILE]
    python bench/load.py scaling [--sizes 10,100,1000,10000] [--worker-counts 1,2,4]

Closed loop keeps ``--concurrency`` runs in flight; open loop starts ``--rate``
runs per second. ``--workers K`` starts K ``legato worker`` processes;
``--local-concurrency`` is what this process works itself (0 with workers
unless given). Servers: ``--config``/``LEGATO_*``, else the ``legato dev``
servers with a fresh keyspace and topics. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/load.py` puts bench/ first, not the repo
    sys.path.insert(0, str(ROOT))

from bench.loadkit import shapes  # noqa: E402
from bench.loadkit.cluster import connect_settings, drop_fresh  # noqa: E402
from bench.loadkit.driver import LoadOptions  # noqa: E402
from bench.loadkit.measure import measure, table  # noqa: E402
from bench.loadkit.stats import series  # noqa: E402
from legato.config import add_config_argument  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("command", nargs="?", choices=["run", "scaling"], default="run")
    p.add_argument("--shape", choices=shapes.SHAPES, default="chain")
    p.add_argument("--nodes", type=int, default=10, help="nodes per run (about; etl has 9)")
    p.add_argument("--concurrency", type=int, default=16, help="closed loop: runs in flight")
    p.add_argument("--rate", type=float, help="open loop: runs started per second")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of starting runs")
    p.add_argument("--runs", type=int, help="start this many runs (instead of --duration)")
    p.add_argument("--workers", type=int, default=0, help="worker processes to start")
    p.add_argument("--worker-concurrency", type=int, default=64)
    p.add_argument("--local-concurrency", type=int, help="jobs this process works at once")
    p.add_argument("--run-timeout", type=float, default=300.0)
    p.add_argument("--floor-seconds", type=float, default=10.0, help="0: no floor")
    p.add_argument("--peer", action="store_true", help="also run the Flowcraft Kafka adapter")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--logs", default="/tmp/legato-load", help="worker process logs")
    s = p.add_argument_group("scaling")
    s.add_argument("--sizes", default="10,100,1000,10000", help="chain lengths")
    s.add_argument("--worker-counts", default="1,2,4", help="worker processes")
    add_config_argument(p)
    return p


def options(args: argparse.Namespace) -> LoadOptions:
    local = args.local_concurrency
    if local is None:
        local = 0 if args.workers else 64
    if local <= 0 and args.workers <= 0:
        raise SystemExit("nothing works the runs: give --workers or --local-concurrency > 0")
    return LoadOptions(
        shape=args.shape,
        nodes=args.nodes,
        concurrency=args.concurrency,
        rate=args.rate,
        duration=args.duration,
        runs=args.runs,
        local_concurrency=local,
        workers=args.workers,
        worker_concurrency=args.worker_concurrency,
        run_timeout=args.run_timeout,
        progress=not args.quiet,
    )


def main() -> int:
    args = parser().parse_args()
    opts = options(args)
    if args.peer:
        from bench.loadkit.measure import load_peer

        load_peer()  # fail before the load if the peer is missing
    cluster = connect_settings(args)
    try:
        if args.command == "scaling":
            from bench.loadkit.scaling import scaling

            result = scaling(cluster, args, opts)
            print(json.dumps(result) if args.json else result["text"])
            return 0
        rep, hist = measure(
            cluster,
            opts,
            floor_seconds=args.floor_seconds,
            peer=args.peer,
            logs=Path(args.logs),
        )
        if args.plot:
            from bench.loadkit import plots

            rep["plots"] = plots.write(args.plot, f"{opts.shape}", series(hist), rep)
    finally:
        drop_fresh(cluster)
    if args.json:
        print(json.dumps(rep))
    else:
        print(table([rep]))
        if rep.get("floor_ms_per_step"):
            ops = ", ".join(f"{k} {v}" for k, v in rep["floor_ms_per_step"].items())
            print(f"\nfloor, mean ms per step: {ops}")
    return 1 if rep["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
