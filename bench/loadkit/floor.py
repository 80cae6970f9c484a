"""The floor: the servers' own work for the steps of a run, without Legato.

Each step of a run makes these server calls (read from ``runtime/pipeline.py`` and
the adapters; bench/README.md lists them with where they come from). The floor
replays them with the raw clients (confluent-kafka, cassandra-driver prepared
statements on the same tables, redis-py with the same Lua scripts), in the same
order, with as many steps in flight as the load had, in as many processes:

    step i of a run (a Kafka message keyed by the run id)
      Kafka     consume it (consumer group, manual asynchronous commits)
      Redis     EVALSHA lease.lua acquire
      Cassandra SELECT header, the step's record and its inputs' records (one query)
      Cassandra INSERT the step's claim (its fencing token)
      Cassandra LWT batch: step row IF NOT EXISTS + event row + touch IF run exists
                + the claim IF fence = token
      Redis     EVALSHA join.lua, once per edge into a join
      Kafka     produce the next step (acks=all, idempotent) and wait for the ack
    last step: finish_run (SELECT header, LWT batch finish IF status = 'running' +
      event row, DELETE of the active index row), Redis SMEMBERS + DEL of the
      run's keys, the run's timers (SELECT run_timers, DELETE); then the next run:
      INSERT bucket + INSERT active index row, LWT batch create IF NOT EXISTS +
      event row, produce its first step.

A run's steps go one after another (each message is the next step); steps in
flight are the ``tokens`` (one per run in flight). Run as
``python -m bench.loadkit.floor`` processes by ``measure_floor``.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from legato.adapters.cassandra.store import CLAIM_TIMESTAMP, HEADER_ROW, _seq
from legato.loop import run as run_loop

if TYPE_CHECKING:
    from bench.loadkit.cluster import Cluster

RECORD = b"\x98\xa4done\xa2n1\x01\xc0\x90\xc2\x01\xc0"  # a StepRecord's size (msgpack)
EVENT = os.urandom(110)  # a StepCompleted event's size


def plan(shape: str, nodes: int) -> list[dict[str, Any]]:
    """Per step (in topological order): predecessor count and join arrivals it makes."""
    from bench.loadkit import shapes

    reg = shapes.blueprint(shape, nodes)
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for p in reg.nodes[n].preds:
            visit(p)
        order.append(n)

    for n in reg.nodes:
        visit(n)
    return [
        {
            "preds": len(reg.nodes[n].preds),
            "arrivals": sum(
                1 for e in reg.nodes[n].out_edges if len(reg.nodes[e.target].preds) > 1
            ),
        }
        for n in order
    ]


class Replayer:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.steps = cfg["plan"]
        self.count = 0  # steps finished inside the measured window
        self.handled = 0  # all steps finished
        self.errors = 0
        self.ops: dict[str, float] = defaultdict(float)  # seconds per operation kind
        self.t_start = self.t_end = 0.0

    async def setup(self) -> None:
        import argparse

        from confluent_kafka import Consumer, Producer
        from redis.asyncio import Redis

        from legato.adapters.cassandra.session import connect
        from legato.adapters.cassandra.store import statements
        from legato.adapters.cassandra.timers import _cql as timer_statements
        from legato.config import settings_from_cli

        cfg = self.cfg
        # The servers of the load (LEGATO_* in the environment, as for its workers).
        settings = settings_from_cli(argparse.Namespace(config=None), os.environ)
        assert settings.kafka and settings.cassandra and settings.redis
        # Legato's connection helper only for the same consistency levels and policy.
        self.cluster, self.session = connect(settings.cassandra)
        ks = settings.cassandra.keyspace
        self.q = {k: self.session.prepare(v) for k, v in statements(ks).items()}
        self.tq = {k: self.session.prepare(v) for k, v in timer_statements(ks).items()}
        self.redis = Redis.from_url(settings.redis.url, **settings.redis.client_kwargs())
        self.prefix = f"floor{uuid.uuid4().hex[:6]}:"
        # Data that began long ago, as a deployment's: no grace after a loss (lease.lua).
        await self.redis.set(f"{self.prefix}born", int((time.time() - 3600) * 1000))
        lua = resources.files("legato.adapters.redis")
        self.lease = self.redis.register_script(lua.joinpath("lease.lua").read_text())
        self.join = self.redis.register_script(lua.joinpath("join.lua").read_text())
        kafka = settings.kafka.client_config()
        self.producer = Producer(
            {**kafka, "enable.idempotence": True, "acks": "all", "linger.ms": 1}
        )
        self.consumer = Consumer(
            {
                **kafka,
                "group.id": cfg["group"],
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "fetch.wait.max.ms": 10,
                "fetch.min.bytes": 1,
            }
        )
        self.assigned = threading.Event()
        self.consumer.subscribe([cfg["topic"]], on_assign=lambda c, p: self.assigned.set())
        self.stop = threading.Event()
        self.done_offsets: dict[int, int] = {}
        self.lock = threading.Lock()

    async def cql(self, kind: str, stmt: Any, params: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        t0 = time.perf_counter()
        rf = self.session.execute_async(stmt, params)

        def ok(rows: Any) -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(rows))

        def err(exc: BaseException) -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_exception(exc))

        rf.add_callbacks(ok, err)
        rows = await fut
        self.ops[kind] += time.perf_counter() - t0
        return rows

    async def rds(self, kind: str, call: Any) -> Any:
        t0 = time.perf_counter()
        out = await call
        self.ops[kind] += time.perf_counter() - t0
        return out

    async def produce(self, run_id: str, index: int) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        t0 = time.perf_counter()

        def done(err: Any, msg: Any) -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        value = json.dumps({"r": run_id, "i": index}).encode()
        self.producer.produce(self.cfg["topic"], value, run_id.encode(), on_delivery=done)
        await fut
        self.ops["kafka produce+ack"] += time.perf_counter() - t0

    def batch(self) -> Any:
        from cassandra.query import BatchStatement, BatchType

        return BatchStatement(batch_type=BatchType.LOGGED)

    async def create_run(self) -> None:
        q, rid, now = self.q, uuid.uuid4().hex, datetime.now(UTC)
        minute = int(time.time() // 60)
        await asyncio.gather(
            self.cql("cassandra index writes", q["buckets_add"], (minute,)),
            self.cql("cassandra index writes", q["active_add"], (minute, rid)),
        )
        b = self.batch()
        b.add(q["create"], (rid, "floor", "1", b"\x00", "running", None, now, now))
        b.add(q["row"], (rid, 0, _seq(), "", EVENT))
        b.add(q["row"], (rid, 1, HEADER_ROW, "", b""))
        await self.cql("cassandra create LWT", b, None)
        await self.produce(rid, 0)

    async def handle(self, rid: str, i: int, partition: int, offset: int) -> None:
        q, step = self.q, self.steps[i]
        sid = f"n{i}"
        lease = self._lk(rid, sid)
        grant = await self.rds(
            "redis lease", self.lease(keys=lease, args=["acquire", "w", 0, 10000, 604800, 0])
        )
        token = int(grant[0])
        # One read: the header row (statics), the step's own record, its inputs.
        keys = [HEADER_ROW, sid] + [f"n{max(0, i - k - 1)}" for k in range(step["preds"])]
        await self.cql("cassandra header and step reads", q["head_rows"], (rid, 1, keys))
        claim = (rid, sid, token, CLAIM_TIMESTAMP + token)
        await self.cql("cassandra claim", q["claim"], claim)
        b = self.batch()
        b.add(q["row_once"], (rid, 1, sid, "", RECORD))
        b.add(q["row"], (rid, 0, _seq(), "", EVENT))
        b.add(q["touch_if"], (datetime.now(UTC), rid))
        b.add(q["fenced"], (token, rid, sid, token))
        await self.cql("cassandra resolve LWT", b, None)
        # A resolved step's lease is left to expire (runtime/lease.py), not released.
        pre = self.prefix
        for a in range(step["arrivals"]):
            keys = [f"{pre}join:{{{rid}}}:j{i}_{a}", f"{pre}run:{{{rid}}}"]
            await self.rds("redis join", self.join(keys=keys, args=[sid, 1, 2, "all", 604800]))
        if i + 1 < len(self.steps):
            await self.produce(rid, i + 1)
        else:
            await self.cql("cassandra finish", q["header"], (rid,))
            b = self.batch()
            b.add(q["finish"], ("completed", None, datetime.now(UTC), rid))
            b.add(q["row"], (rid, 0, _seq(), "", EVENT))
            await self.cql("cassandra finish", b, None)
            await self.cql("cassandra finish", q["active_del"], (int(time.time() // 60), rid))
            index = f"{pre}run:{{{rid}}}"
            members = await self.rds("redis forget", self.redis.smembers(index))
            await self.rds("redis forget", self.redis.delete(index, *members))
            await self.cql("cassandra timers", self.tq["owned"], (rid,))
            await self.cql("cassandra timers", self.tq["disown"], (rid,))
        now = time.time()
        self.handled += 1
        if self.t_start <= now <= self.t_end:
            self.count += 1
        with self.lock:
            self.done_offsets[partition] = max(self.done_offsets.get(partition, -1), offset)
        if i + 1 == len(self.steps) and now < self.t_end:
            await self.create_run()

    async def guarded(self, rid: str, i: int, partition: int, offset: int) -> None:
        """``handle``, retried like Legato retries a job when a server is unavailable
        (a Redis restart by another engineer's fault test must not lose a token)."""
        for attempt in range(8):
            try:
                await self.handle(rid, i, partition, offset)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stop.is_set():
                    return  # the clients are closing: the measurement is over
                self.errors += 1
                print(f"floor step failed ({type(exc).__name__}: {exc}), retrying", file=sys.stderr)
                await asyncio.sleep(0.1 * 2**attempt)

    def _lk(self, rid: str, sid: str) -> list[str]:
        pre = self.prefix
        return [
            f"{pre}lease:{{{rid}}}:{sid}",
            f"{pre}fence:{{{rid}}}:{sid}",
            f"{pre}run:{{{rid}}}",
            f"{pre}born",
        ]

    def consume(self, loop: asyncio.AbstractEventLoop, tasks: list[Any]) -> None:
        from confluent_kafka import TopicPartition

        while not self.stop.is_set():
            first = self.consumer.poll(0.05)
            msgs = [first] if first is not None else []
            if first is not None:
                msgs += self.consumer.consume(100, timeout=0)
            for m in msgs:
                if m.error():
                    continue
                body = json.loads(m.value())
                coro = self.guarded(body["r"], body["i"], m.partition(), m.offset())
                tasks.append(asyncio.run_coroutine_threadsafe(coro, loop))
            with self.lock:
                todo = [
                    TopicPartition(self.cfg["topic"], p, o + 1)
                    for p, o in self.done_offsets.items()
                ]
                self.done_offsets.clear()
            if todo:
                self.consumer.commit(offsets=todo, asynchronous=True)

    async def main(self) -> None:
        await self.setup()
        loop = asyncio.get_running_loop()
        poller = threading.Thread(target=self._poll_producer, daemon=True)
        poller.start()
        tasks: list[Any] = []
        thread = threading.Thread(target=self.consume, args=(loop, tasks), daemon=True)
        thread.start()
        await loop.run_in_executor(None, self.assigned.wait, 60)
        print("ready", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        self.t_start, self.t_end = (float(x) for x in line.split()[1:3])
        # A hung replay says where, before the parent gives up on it.
        faulthandler.dump_traceback_later(self.t_end - time.time() + 40, exit=True)
        await asyncio.gather(*(self.create_run() for _ in range(self.cfg["tokens"])))
        await asyncio.sleep(max(0.0, self.t_end - time.time()))
        self.stop.set()
        await loop.run_in_executor(None, thread.join, 10)
        for t in list(tasks):
            t.cancel()
        try:
            await asyncio.wait_for(self.close(loop), 20)
        except Exception as exc:  # the count is what matters now
            print(f"floor: closing failed: {exc!r}", file=sys.stderr)
        result = {
            "steps": self.count,
            "handled": self.handled,
            "errors": self.errors,
            "ops": dict(self.ops),
        }
        # Cancelled driver calls may hang the event loop's teardown after the clients
        # closed under them; the result is all this process owes.
        print(json.dumps(result), flush=True)
        os._exit(0)

    async def close(self, loop: asyncio.AbstractEventLoop) -> None:
        await loop.run_in_executor(None, self.producer.flush, 5)
        await loop.run_in_executor(None, self.consumer.close)
        await self.redis.aclose()
        await loop.run_in_executor(None, self.cluster.shutdown)

    def _poll_producer(self) -> None:
        while not self.stop.is_set():
            self.producer.poll(0.05)


def measure_floor(
    cluster: Cluster,
    steps: list[dict[str, Any]],
    processes: int,
    tokens: int,
    seconds: float,
    warm: float = 2.0,
) -> dict[str, Any]:
    """Replay ``steps`` (``plan``) in ``processes`` processes with ``tokens`` runs in
    flight in all, on a fresh topic; returns steps/s and the mean milliseconds each
    kind of operation took per step."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from bench.loadkit.cluster import ROOT

    kafka = cluster.settings.kafka
    assert kafka is not None
    topic = f"floor_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"log_level": 0, **kafka.client_config()})
    new = NewTopic(topic, num_partitions=6, replication_factor=kafka.replication_factor)
    for fut in admin.create_topics([new]).values():
        fut.result(30)
    procs = []
    try:
        for p in range(processes):
            share = tokens // processes + (1 if p < tokens % processes else 0)
            body = {"plan": steps, "topic": topic, "group": topic, "tokens": max(1, share)}
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.loadkit.floor", json.dumps(body)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    cwd=ROOT,
                    env=cluster.env,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"a floor process did not start: {line!r}")
        t_start = time.time() + warm
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"go {t_start} {t_start + seconds}\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=seconds + warm + 60)
                results.append(json.loads(out.strip().splitlines()[-1]))
            except (subprocess.TimeoutExpired, ValueError, IndexError) as exc:
                proc.kill()
                print(f"floor: a process gave no result ({exc!r})", file=sys.stderr)
                results.append({"steps": 0, "handled": 0, "errors": 1, "ops": {}})
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        admin.delete_topics([topic])
    ops: dict[str, float] = defaultdict(float)
    for r in results:
        for k, v in r["ops"].items():
            ops[k] += v
    handled = max(1, sum(r["handled"] for r in results))
    return {
        "floor_steps_per_s": round(sum(r["steps"] for r in results) / seconds, 1),
        "floor_processes": processes,
        "floor_tokens": tokens,
        "floor_errors": sum(r["errors"] for r in results),
        "floor_ms_per_step": {k: round(v * 1000 / handled, 3) for k, v in sorted(ops.items())},
    }


if __name__ == "__main__":
    run_loop(Replayer(json.loads(sys.argv[1])).main())
