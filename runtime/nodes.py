"""Node implementations: functions (sync or async) and prep/exec/post classes.

``uses`` names an implementation as ``"package.module:attribute"`` or as a
name registered in a ``NodeCatalog``.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

from legato.runtime.errors import StepError, StepTimeoutError
from legato.runtime.nodectx import StepContext
from legato.runtime.threads import DaemonThreads
from legato.runtime.typed_input import convert_input, input_type

NodeFunction = Callable[..., Any]

#: A node function, sync or async, taking ``ctx`` (typed or not); kept as it is.
F = TypeVar("F", bound=Callable[[StepContext[Any]], object])
#: A prep/exec/post node class.
C = TypeVar("C", bound=type[Any])


class Registers(Protocol):
    """What ``@catalog.node("name")`` returns: a decorator that keeps its argument's type."""

    @overload
    def __call__(self, impl: C, /) -> C: ...
    @overload
    def __call__(self, impl: F, /) -> F: ...


@dataclass(frozen=True, slots=True)
class Result:
    """What a node returns to pick outgoing edges: ``Result(output, action="name")``.

    ``action`` selects the edges with that action (edges without an action are
    always candidates).
    """

    output: Any = None
    action: str | None = None


class NodeCatalog:
    """Implementations registered by name, for blueprints that say ``uses: name``."""

    def __init__(self) -> None:
        self._by_name: dict[str, NodeFunction] = {}

    def register(self, name: str, impl: NodeFunction) -> None:
        self._by_name[name] = impl

    @overload
    def node(self, impl: C, /) -> C: ...
    @overload
    def node(self, impl: F, /) -> F: ...
    @overload
    def node(self, name: str | None = None, /) -> Registers: ...

    def node(self, arg: Any = None, /) -> Any:
        """Decorator registering a node: ``@catalog.node("resize")``, or ``@catalog.node``
        (``@catalog.node()``) for the function's own ``__name__``. The function is
        returned as it is, so type checkers keep its signature, sync or async;
        one that does not take a ``StepContext`` is a type error."""
        if arg is None or isinstance(arg, str):
            name: str | None = arg

            def wrap(impl: Any) -> Any:
                self.register(name or impl.__name__, impl)
                return impl

            return wrap
        self.register(arg.__name__, arg)
        return arg

    def update(self, functions: dict[str, NodeFunction]) -> None:
        self._by_name.update(functions)

    def functions(self) -> dict[str, NodeFunction]:
        """A copy of every registration, by name."""
        return dict(self._by_name)

    def lookup(self, name: str) -> NodeFunction | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)


def wait_for_signal(ctx: Any) -> Any:
    """Built-in ``uses: legato.wait_for_signal``: wait for a named signal; its data
    becomes the output. Params: ``signal`` (the name), optional ``key``. The node's
    ``config.timeout`` bounds the wait. Run by the executor, never called."""
    raise RuntimeError("wait_for_signal is run by the executor")


def sleep(ctx: Any) -> Any:
    """Built-in ``uses: legato.sleep``: wait ``seconds`` or ``until`` an instant (ISO 8601
    or unix seconds) on a durable timer, then pass the input on. Never called."""
    raise RuntimeError("sleep is run by the executor")


def wait_for_event(ctx: Any) -> Any:
    """Built-in ``uses: legato.wait_for_event``: wait for an event of name
    ``params.event`` and key ``params.key`` (a CEL expression over ``input``,
    ``outputs``, ``context``); the event's data becomes the output. Never called."""
    raise RuntimeError("wait_for_event is run by the executor")


WAIT_KINDS: dict[NodeFunction, str] = {
    wait_for_signal: "signal",
    sleep: "sleep",
    wait_for_event: "event",
}
BUILTINS: dict[str, NodeFunction] = {
    "legato.wait_for_signal": wait_for_signal,
    "legato.wait_for_event": wait_for_event,
    "legato.sleep": sleep,
}

#: The catalog used when none is given (``@legato.node("name")`` registers here).
default_catalog = NodeCatalog()


def resolve(uses: str, catalog: NodeCatalog) -> NodeFunction:
    """Find the implementation named by ``uses``; raise ``LookupError`` saying why not."""
    found = catalog.lookup(uses) or BUILTINS.get(uses)
    if found is not None:
        return found
    if ":" not in uses:
        raise LookupError(
            f"{uses!r} is not a registered node name and not of the form 'package.module:function'"
        )
    module_name, _, attr = uses.partition(":")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise LookupError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise LookupError(f"{uses!r} is not callable")
    imported: NodeFunction = target
    return imported


def import_module(name: str) -> Any:
    """``importlib.import_module``, where anything the module raises while it is
    imported (a bug in it, a ``sys.exit()`` at top level) becomes an ``ImportError``
    naming the module, the exception and where it was raised."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise
    except (Exception, SystemExit) as exc:
        raise ImportError(_raised_at_import(exc), name=name) from exc


def _raised_at_import(exc: BaseException) -> str:
    name = type(exc).__name__
    message = f"it raised {name}: {exc}" if str(exc) else f"it raised {name}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    # A SyntaxError's text says where already; its traceback ends in importlib.
    if frames and not isinstance(exc, SyntaxError):
        message += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return message


class NodeCrashError(StepError):
    """Node code raised something that is not an ``Exception`` (``SystemExit``,
    ``KeyboardInterrupt``, its own ``CancelledError``): the step fails, the
    worker goes on."""


_threads = DaemonThreads()


@dataclass(frozen=True, slots=True)
class Implementation:
    """A resolved implementation and how to call it."""

    target: NodeFunction
    kind: str  # "async" | "sync" | "class" | "signal" | "sleep" | "event"
    input_type: Any = None  # the In of ``ctx: StepContext[In]``; None: untyped

    async def call(self, ctx: Any, timeout: float | None = None) -> Any:
        """Run the node on ``ctx``; ``StepTimeoutError`` after ``timeout`` seconds.

        Whatever node code raises becomes an ``Exception`` here: a ``BaseException``
        (or a ``CancelledError`` nobody asked for) is a ``NodeCrashError``. Sync code
        runs in a daemon thread, which cannot be interrupted: at its timeout
        ``ctx.cancelled`` is set and the step ends only once the thread returns, so
        a retry never overlaps it; a run that ends meanwhile does not wait for it.
        A typed node's input is converted first (``InputValidationError``).
        """
        if self.input_type is not None:
            ctx.input = convert_input(ctx.input, self.input_type, ctx.step_id)
        if self.kind == "sync":
            return await _call_sync(self.target, ctx, timeout)
        coro = _contained(self.target(ctx) if self.kind == "async" else self._call_async(ctx))
        if timeout is None:
            return await coro
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            raise StepTimeoutError(f"step {ctx.step_id} timed out after {timeout}s") from None

    async def _call_async(self, ctx: Any) -> Any:
        return await _run_lifecycle(self.target(), ctx)


def _crash(exc: BaseException) -> NodeCrashError:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    retryable = isinstance(exc, asyncio.CancelledError)
    return NodeCrashError(f"node code raised {what}", retryable=retryable)


async def _contained(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the worker cancels the step (timeout, run ended, lease lost)
        raise _crash(exc) from exc
    except Exception:
        raise
    except BaseException as exc:
        raise _crash(exc) from exc


async def _call_sync(fn: NodeFunction, ctx: Any, timeout: float | None) -> Any:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()  # the thread logs under the step, as async code

    def run() -> None:
        try:
            result, error = context.run(fn, ctx), None
        except Exception as exc:
            result, error = None, exc
        except BaseException as exc:
            result, error = None, _crash(exc)
        try:
            loop.call_soon_threadsafe(_settle, done, result, error)
        except RuntimeError:
            pass  # the event loop is gone: nobody waits for this result

    _threads.submit(run)
    if timeout is None:
        return await done
    finished, _ = await asyncio.wait({done}, timeout=timeout)
    if not finished:
        ctx.cancelled = True
        await asyncio.wait({done})  # no retry may start while this attempt still runs
        raise StepTimeoutError(f"step {ctx.step_id} timed out after {timeout}s")
    return done.result()


def _settle(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(error)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _run_lifecycle(obj: Any, ctx: Any) -> Any:
    prepared = await _maybe_await(obj.prep(ctx)) if hasattr(obj, "prep") else ctx.input
    result = await _maybe_await(obj.exec(prepared))
    if hasattr(obj, "post"):
        return await _maybe_await(obj.post(ctx, prepared, result))
    return result


def implementation(target: NodeFunction) -> Implementation:
    """Classify a callable: a class with ``exec`` runs prep/exec/post; coroutine
    functions are awaited; plain functions run in a thread so they cannot block
    other steps. Raises ``LookupError`` for a typed input msgspec cannot convert to."""
    wait_kind = WAIT_KINDS.get(target)
    if wait_kind is not None:
        return Implementation(target, wait_kind)
    if inspect.isclass(target):
        if not hasattr(target, "exec"):
            raise LookupError(f"class {target.__name__} has no exec() method")
        return Implementation(target, "class")
    call = getattr(target, "__call__", None)  # noqa: B004 - objects with an async __call__
    typed = input_type(target)
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call):
        return Implementation(target, "async", typed)
    return Implementation(target, "sync", typed)
