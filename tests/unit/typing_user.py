"""A user's typed module, checked by ``mypy --strict`` in test_typing.py (never run).

A trailing "R:" comment says what ``reveal_type`` on that line must show (a part
of it; "!text": must not show); "E:" names the error code mypy must report there.
Every other line must be clean.
"""

from __future__ import annotations

from typing import reveal_type

import msgspec

import legato
from legato import StepContext
from legato.config import Settings


class Order(msgspec.Struct):
    sku: str
    qty: int


@legato.node
async def price(ctx: StepContext[Order]) -> float:
    reveal_type(ctx.input)  # R: typing_user.Order
    return ctx.input.qty * 1.5


@legato.node("ship")
def ship(ctx: StepContext[Order]) -> str:
    ctx.input.qty.upper()  # E: attr-defined
    return ctx.input.sku


@legato.node()
def untyped(ctx: StepContext) -> int:
    reveal_type(ctx.input)  # R: Any
    return 1


@legato.node("resize")
class Resize:
    def exec(self, prepared: object) -> int:
        return 1


reveal_type(price)  # R: StepContext[typing_user.Order]) -> typing.Coroutine[Any, Any, float]
reveal_type(ship)  # R: def (ctx: legato.runtime.nodectx.StepContext[typing_user.Order]) -> str
reveal_type(Resize)  # R: def () -> typing_user.Resize
not_a_number: int = ship  # E: assignment


@legato.node("bad")  # E: type-var
def bad(x: int) -> int:
    return x


async def use_client(settings: Settings, reg: legato.Registry) -> None:
    async with await legato.Client.connect(settings) as client:
        reveal_type(client)  # R: legato.client.Client
        reveal_type(await client.register(reg))  # R: tuple[str, str]
        reveal_type(await client.start("etl", {"day": 1}))  # R: str
        reveal_type(await client.wait("r", timeout=1))  # R: legato.runtime.control.RunResult
        reveal_type(await client.status("r"))  # R: legato.schemas.events.RunHeader
        reveal_type(await client.cancel("r"))  # R: bool
        await client.start(reg, version=1)  # E: arg-type


def use_sync_client(settings: Settings, reg: legato.Registry) -> None:
    with legato.SyncClient(settings) as client:
        reveal_type(client)  # R: legato.client.SyncClient
        reveal_type(client.register(reg))  # R: tuple[str, str]
        reveal_type(client.start("etl", {"day": 1}, version="2"))  # R: str
        reveal_type(client.wait("r"))  # R: legato.runtime.control.RunResult
        reveal_type(client.status("r"))  # R: legato.schemas.events.RunHeader
        reveal_type(client.history("r"))  # R: list[
        reveal_type(client.cancel("r", "why"))  # R: bool
        reveal_type(client.signal("r", "go", {"ok": True}))  # R: bool
        run_id: int = client.start("etl")  # E: assignment
        print(run_id)
        client.stat("r")  # E: attr-defined


# Not a single Any in the clients' methods (values are `object`: anything goes in).
reveal_type(legato.Client.connect)  # R: !Any
reveal_type(legato.Client.register)  # R: !Any
reveal_type(legato.Client.start)  # R: !Any
reveal_type(legato.Client.wait)  # R: !Any
reveal_type(legato.Client.status)  # R: !Any
reveal_type(legato.Client.history)  # R: !Any
reveal_type(legato.Client.cancel)  # R: !Any
reveal_type(legato.Client.signal)  # R: !Any
reveal_type(legato.SyncClient.__init__)  # R: !Any
reveal_type(legato.SyncClient.register)  # R: !Any
reveal_type(legato.SyncClient.start)  # R: !Any
reveal_type(legato.SyncClient.wait)  # R: !Any
reveal_type(legato.SyncClient.status)  # R: !Any
reveal_type(legato.SyncClient.history)  # R: !Any
reveal_type(legato.SyncClient.cancel)  # R: !Any
reveal_type(legato.SyncClient.signal)  # R: !Any
reveal_type(legato.SyncClient.close)  # R: !Any
