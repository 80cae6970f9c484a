"""Events by name and key: delivered to every run waiting on that name and key, to
runs that start waiting within the retain window, consumed once per wait;
``config.timeout`` bounds the wait."""

from __future__ import annotations

from typing import Any

import pytest

import legato
import legato.testing
from legato.runtime.errors import BadRequestError, PayloadTooLargeError
from legato.schemas import StepCompleted


async def echo(ctx: legato.StepContext) -> Any:
    return ctx.input


async def fallback(ctx: legato.StepContext) -> Any:
    return f"timed out: {ctx.error}"


NODES = legato.NodeCatalog()
NODES.update({"echo": echo, "fallback": fallback})


def payment_flow(timeout: float | None = None) -> legato.Registry:
    config: dict[str, Any] = {"timeout": timeout, "fallback": "gave_up"} if timeout else {}
    return legato.compile(
        legato.parse_blueprint(
            {
                "id": "order",
                "nodes": [
                    {"id": "place", "uses": "echo"},
                    {
                        "id": "paid",
                        "uses": "legato.wait_for_event",
                        "params": {"event": "payment", "key": "outputs.place.order"},
                        "config": config,
                    },
                    {"id": "ship", "uses": "echo"},
                    {"id": "gave_up", "uses": "fallback"},
                ],
                "edges": [
                    {"source": "place", "target": "paid"},
                    {"source": "paid", "target": "ship"},
                ],
            }
        ),
        NODES,
    )


async def result(engine: legato.Engine, rid: str) -> legato.RunResult:
    return await engine.result(await engine.status(rid))


async def test_an_event_reaches_every_run_waiting_on_its_name_and_key() -> None:
    engine = legato.Engine(legato.testing.backend())
    reg = payment_flow()
    a = await engine.start(reg, {"order": "o-1"})
    b = await engine.start(reg, {"order": "o-1"})
    other = await engine.start(reg, {"order": "o-2"})
    pump = legato.testing.Pump(engine)
    await pump.run()
    assert await engine.publish("payment", "o-1", {"paid": 10}) == 2
    assert await engine.publish("refund", "o-2", {}) == 0  # another name
    await pump.run()
    for rid in (a, b):
        res = await result(engine, rid)
        assert res.status == "completed" and res.outputs["ship"] == {"paid": 10}
    assert (await engine.status(other)).status == "running"
    assert await engine.backend.store.event_waiters("payment", "o-1") == []  # took theirs
    assert await engine.publish("payment", "o-1", {"paid": 11}) == 0  # they wait no more
    assert await engine.publish("payment", "o-2", {"paid": 3}) == 1
    await pump.run()
    assert (await result(engine, other)).outputs["paid"] == {"paid": 3}


async def test_an_event_before_the_wait_is_lost_unless_retained() -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    reg = payment_flow()
    assert await engine.publish("payment", "early", "not kept") == 0
    assert await engine.publish("payment", "early", "kept", retain=60) == 0
    rid = await engine.start(reg, {"order": "early"})
    await legato.testing.Pump(engine).run()
    assert (await result(engine, rid)).outputs["paid"] == "kept"
    # Outside the window, a retained event is not delivered.
    await engine.publish("payment", "late", "expired", retain=60)
    await clock.advance(61)
    late = await engine.start(reg, {"order": "late"})
    await legato.testing.Pump(engine).run()
    assert (await engine.status(late)).status == "running"


async def test_the_timeout_bounds_the_wait() -> None:
    clock = legato.testing.FakeClock()
    engine = legato.Engine(legato.testing.backend(clock))
    rid = await engine.start(payment_flow(timeout=30), {"order": "o-9"})
    pump = legato.testing.Pump(engine)
    await pump.run()
    await clock.advance(31)
    await legato.testing.settle()
    await pump.run()
    res = await result(engine, rid)
    assert res.status == "completed"
    assert res.outputs["paid"].startswith("timed out: no event 'payment' with key 'o-9'")
    assert await engine.backend.store.event_waiters("payment", "o-9") == []
    assert await engine.publish("payment", "o-9", 1) == 0  # no longer waiting


async def test_a_redelivered_publish_and_redelivered_jobs_deliver_once() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(payment_flow(), {"order": "o-1"})
    pump = legato.testing.Pump(engine)
    await pump.run()
    for _ in range(2):  # the same command twice
        await engine.control.publish("payment", "o-1", "once", event_id="evt-1")
    jobs = list(pump.collect())
    pump.queue.clear()
    for job in jobs * 3:
        await pump.handle(job)
    await pump.run()
    history = await engine.history(rid)
    assert [e.output for e in history if isinstance(e, StepCompleted) and e.step_id == "paid"] == [
        "once"
    ]
    assert (await engine.backend.store.next_signal(rid, "@event/payment/o-1")) is None


async def test_a_key_expression_that_fails_fails_the_step_clearly() -> None:
    engine = legato.Engine(legato.testing.backend())
    rid = await engine.start(payment_flow(), {"order": ["not", "a", "key"]})
    await legato.testing.Pump(engine).run()
    res = await result(engine, rid)
    assert res.status == "failed" and "not a string" in (res.error or "")


def test_bad_event_params_are_compile_errors() -> None:
    doc = {
        "id": "bad",
        "nodes": [
            {"id": "w", "uses": "legato.wait_for_event", "params": {"key": "input.(("}},
            {
                "id": "v",
                "uses": "legato.wait_for_event",
                "params": {"event": "e", "key": "input.k"},
                "inputs": "input",
            },
        ],
    }
    with pytest.raises(legato.BlueprintError) as err:
        legato.compile(legato.parse_blueprint(doc), NODES)
    text = str(err.value)
    assert "nodes[0].params.event" in text and "nodes[0].params.key" in text
    assert "nodes[1].inputs" in text


async def test_bad_publishes_are_refused() -> None:
    engine = legato.Engine(legato.testing.backend())
    with pytest.raises(PayloadTooLargeError):
        await engine.publish("payment", "k", "x" * (2 << 20))
    with pytest.raises(BadRequestError):
        await engine.publish("", "k", 1)
    with pytest.raises(BadRequestError):
        await engine.publish("payment", "k", 1, retain=-1)
