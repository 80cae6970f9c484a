"""Node functions used by the example blueprints in this folder."""

from __future__ import annotations

from typing import Any

import legato

# -- etl.yaml ----------------------------------------------------------------------------


async def extract_users(ctx: legato.StepContext) -> list[dict[str, Any]]:
    return [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}, {"id": 3, "name": "edsger"}]


async def extract_orders(ctx: legato.StepContext) -> list[dict[str, Any]]:
    return [{"user": 1, "total": 30}, {"user": 1, "total": 12}, {"user": 3, "total": 7}]


async def join_totals(ctx: legato.StepContext) -> dict[str, int]:
    """A join: ``ctx.input`` maps each predecessor to its output."""
    users = {u["id"]: u["name"] for u in ctx.input["extract_users"]}
    totals = {name: 0 for name in users.values()}
    for order in ctx.input["extract_orders"]:
        totals[users[order["user"]]] += order["total"]
    return totals


async def load(ctx: legato.StepContext) -> dict[str, Any]:
    """Fails on its first attempt (a flaky warehouse) and succeeds on the retry."""
    if ctx.attempt == 1:
        raise ConnectionError("warehouse not reachable")
    ctx.context.set("loaded_rows", len(ctx.input))
    return {"rows": len(ctx.input), "attempt": ctx.attempt}


# -- branch.yaml, condition.yaml -------------------------------------------------------------


async def review(ctx: legato.StepContext) -> legato.Result:
    amount = ctx.input["amount"]
    return legato.Result(
        output={"amount": amount}, action="approve" if amount <= ctx.params["limit"] else "escalate"
    )


async def approve(ctx: legato.StepContext) -> str:
    return f"approved {ctx.input['amount']}"


async def escalate(ctx: legato.StepContext) -> str:
    return f"escalated {ctx.input['amount']}"


async def notify(ctx: legato.StepContext) -> str:
    return f"notified: {ctx.input}"


async def score(ctx: legato.StepContext) -> dict[str, Any]:
    return {"name": ctx.input["name"], "score": len(ctx.input["name"]) * 10}


async def celebrate(ctx: legato.StepContext) -> str:
    return f"{ctx.input['name']} passed with {ctx.input['score']}"


async def coach(ctx: legato.StepContext) -> str:
    return f"{ctx.input['name']} needs coaching"


# -- loop.yaml ---------------------------------------------------------------------------------


async def start_count(ctx: legato.StepContext) -> dict[str, int]:
    return {"n": 0, "total": 0}


async def add_next(ctx: legato.StepContext) -> dict[str, int]:
    n = ctx.input["n"] + 1
    return {"n": n, "total": ctx.input["total"] + n}


async def report(ctx: legato.StepContext) -> str:
    return f"sum of 1..{ctx.input['n']} is {ctx.input['total']}"


# -- inputs.yaml ---------------------------------------------------------------------------------


async def fetch_profile(ctx: legato.StepContext) -> dict[str, Any]:
    return {"user": ctx.input["user"], "email": f"{ctx.input['user']}@example.com"}


async def fetch_plan(ctx: legato.StepContext) -> dict[str, Any]:
    return {"plan": "pro", "seats": 5}


async def send_invoice(ctx: legato.StepContext) -> str:
    return f"invoice for {ctx.input['seats']} seats of {ctx.input['plan']} to {ctx.input['to']}"


# -- approval.yaml ---------------------------------------------------------------------------------


async def request_approval(ctx: legato.StepContext) -> dict[str, Any]:
    return {"request": ctx.input, "asked": "manager"}


async def auto_reject(ctx: legato.StepContext) -> dict[str, Any]:
    return {"approved": False, "reason": ctx.error}


async def archive(ctx: legato.StepContext) -> str:
    return "approved" if ctx.input.get("approved") else "rejected"


# -- quorum.yaml -----------------------------------------------------------------------------


async def prepare_write(ctx: legato.StepContext) -> dict[str, Any]:
    value = ctx.input if isinstance(ctx.input, dict) else {}
    return {"version": 7, "down": list(value.get("down", []))}


async def replicate(ctx: legato.StepContext) -> dict[str, Any]:
    return {"replica": ctx.node_id, "version": ctx.input["version"]}


async def commit(ctx: legato.StepContext) -> dict[str, Any]:
    # ctx.input: {replica: output} of the 2 replicas that acknowledged first
    versions = {ack["version"] for ack in ctx.input.values()}
    return {"acks": len(ctx.input), "version": versions.pop()}


# -- foreach.yaml ----------------------------------------------------------------------------


async def list_images(ctx: legato.StepContext) -> list[str]:
    value = ctx.input if isinstance(ctx.input, dict) else {}
    return list(value.get("images", ["cat.png", "dog.png", "owl.png", "fox.png"]))


async def resize(ctx: legato.StepContext) -> dict[str, Any]:
    # ctx.input: one image; ctx.index: its position; the step is resize[<index>]
    return {"thumb": f"thumb-{ctx.input}", "position": ctx.index}


async def publish_album(ctx: legato.StepContext) -> dict[str, Any]:
    # ctx.input: resize's output, the list of item outputs in item order
    return {"count": len(ctx.input), "first": ctx.input[0]["thumb"] if ctx.input else None}
