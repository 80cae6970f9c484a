"""Build a blueprint in Python and run it embedded: `python examples/builder.py`."""

from __future__ import annotations

import json

import legato


async def normalise(ctx: legato.StepContext) -> str:
    return str(ctx.input).strip().title()


async def check(ctx: legato.StepContext) -> legato.Result:
    ok = ctx.input.isalpha()
    return legato.Result(
        output={"name": ctx.input, "letters": len(ctx.input)}, action="ok" if ok else "bad"
    )


async def greet(ctx: legato.StepContext) -> str:
    return f"Hello, {ctx.input['name']}! ({ctx.input['letters']} letters checked)"


async def reject(ctx: legato.StepContext) -> str:
    return f"refusing {ctx.input['name']!r}"


flow = (
    legato.Flow("greeting")
    .node("normalise", normalise)
    .node("check", check, retry=legato.Retry(max_attempts=2, initial_delay=0.01))
    .node("greet", greet)
    .node("reject", reject)
    .edge("normalise", "check")
    .edge("check", "greet", action="ok")
    .edge("check", "reject", action="bad")
)

if __name__ == "__main__":
    result = legato.run_sync(flow, "  ada ")
    print(json.dumps(result.to_dict()))
