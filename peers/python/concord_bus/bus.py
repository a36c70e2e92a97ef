"""The in-process bus (BUS-18, BUS-19, BUS-20, BUS-21, BUS-22, BUS-23, BUS-24, BUS-25, BUS-26, BUS-27, BUS-28, BUS-29, BUS-30, BUS-31, BUS-32, BUS-33, BUS-34, BUS-35, BUS-36): publish fans out and waits for every subscriber, send and query
reach the one handler of their type, middleware wraps every operation."""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from .errors import BusError, ErrorCode, as_bus_error, proto

#: The catalog's timeout_ms of BUS_QUERY, used when a query names none (BUS-13).
DEFAULT_QUERY_TIMEOUT_MS = proto.MESSAGES[proto.MessageType.BUS_QUERY].timeout_ms

Handler = Callable[["Message"], Any]


@dataclass(frozen=True)
class Message:
    """A bus message: its type name is explicit, never a class name (BUS-18)."""

    type: str
    category: str  # event, command or query
    payload: Any = None


@dataclass
class MiddlewareContext:
    message_type: str  # the routing key, fixed before any hook (BUS-34)
    category: str
    metadata: Dict[str, Any]


class Middleware:
    """Override before (return None to abort) and/or after (return {"result": ...} and/or {"error": ...})."""

    async def before(self, ctx: MiddlewareContext, message: Message) -> Optional[Message]:
        return message

    async def after(self, ctx: MiddlewareContext, message: Message, result: Any, error: Optional[BusError]) -> Optional[Dict[str, Any]]:
        return None


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    r = fn(*args)
    if inspect.isawaitable(r):
        r = await r
    return r


_ABORTED = object()


async def run_pipeline(middleware: List[Middleware], message: Message, core: Callable[[Message], Awaitable[Any]]) -> Tuple[Any, Any, Optional[BusError]]:
    """Returns (aborted_marker_or_None, result, error); befores in order, afters reversed (BUS-30, BUS-31, BUS-32, BUS-33)."""
    ctx = MiddlewareContext(message.type, message.category, {})
    chain = list(middleware)
    current = message
    for m in chain:
        try:
            nxt = await _call(m.before, ctx, current)
        except Exception as e:  # BUS-32: the hook's error, no after hook
            return None, None, as_bus_error(e)
        if nxt is None:
            return _ABORTED, None, None
        current = nxt
    result: Any = None
    error: Optional[BusError] = None
    try:
        result = await core(current)
    except Exception as e:
        error = as_bus_error(e)
    for m in reversed(chain):
        try:
            out = await _call(m.after, ctx, current, result, error)
        except Exception as e:
            error = as_bus_error(e)
            continue
        if not out:
            continue
        if "result" in out:
            result = out["result"]
        if "error" in out:
            error = as_bus_error(out["error"]) if out["error"] is not None else None
    return None, result, error


def aborted(type_: str) -> BusError:
    return BusError(ErrorCode.ABORTED, f"a before hook aborted {type_}; the handler did not run", {"statement": "BUS-31"})


async def with_timeout(coro: Awaitable[Any], timeout_ms: int, what: str) -> Any:
    try:
        return await asyncio.wait_for(coro, timeout_ms / 1000)
    except asyncio.TimeoutError:
        raise BusError(ErrorCode.TIMEOUT, f"{what} did not finish within {timeout_ms} ms", {"timeout_ms": timeout_ms}) from None


class _Subscription:
    __slots__ = ("event_type", "handler")

    def __init__(self, event_type: str, handler: Handler) -> None:
        self.event_type = event_type
        self.handler = handler


class InMemoryBus:
    def __init__(self, query_timeout_ms: int = DEFAULT_QUERY_TIMEOUT_MS, on_subscriber_error: Optional[Callable[[str, BusError], None]] = None) -> None:
        self.query_timeout_ms = query_timeout_ms
        self._subs: List[_Subscription] = []
        self._handlers: Dict[str, Tuple[str, Handler]] = {}
        self._middleware: List[Middleware] = []
        self._on_subscriber_error = on_subscriber_error or (lambda t, e: None)

    async def subscribe(self, event_type: str, handler: Handler) -> Callable[[], Awaitable[None]]:
        sub = _Subscription(event_type, handler)  # its own entry per call (BUS-21)
        self._subs = self._subs + [sub]

        async def unsubscribe() -> None:  # identity: exactly this one; again is a no-op (BUS-22)
            self._subs = [s for s in self._subs if s is not sub]

        return unsubscribe

    async def register_handler(self, message_type: str, category: str, handler: Handler) -> None:
        if message_type in self._handlers:
            raise BusError(ErrorCode.HANDLER_EXISTS, f"a handler for {message_type} is already registered", {"statement": "BUS-19"})
        self._handlers[message_type] = (category, handler)

    def use(self, middleware: Middleware) -> None:
        self._middleware = self._middleware + [middleware]

    async def publish(self, event_type: str, payload: Any) -> None:
        subscribers = [s for s in self._subs if s.event_type == event_type]  # by the routing key (BUS-34)

        async def core(m: Message) -> Any:
            async def one(s: _Subscription) -> None:
                try:
                    await _call(s.handler, m)
                except Exception as e:  # BUS-24
                    self._on_subscriber_error(event_type, as_bus_error(e))

            await asyncio.gather(*(one(s) for s in subscribers))
            return None

        marker, _result, error = await run_pipeline(self._middleware, Message(event_type, "event", payload), core)
        if marker is None and error is not None:
            raise error

    async def send(self, command_type: str, payload: Any) -> None:
        entry = self._handlers.get(command_type)

        async def core(m: Message) -> Any:
            if entry is not None:
                await _call(entry[1], m)
            return None  # BUS-26; a command has no result

        marker, _result, error = await run_pipeline(self._middleware, Message(command_type, "command", payload), core)
        if marker is _ABORTED:
            raise aborted(command_type)
        if error is not None:
            raise error

    async def query(self, query_type: str, payload: Any, timeout_ms: Optional[int] = None) -> Any:
        entry = self._handlers.get(query_type)
        limit = timeout_ms if timeout_ms is not None and timeout_ms > 0 else self.query_timeout_ms  # BUS-29

        async def core(m: Message) -> Any:
            if entry is None:
                raise BusError(ErrorCode.NO_HANDLER, f"no handler is registered for {query_type}", {"statement": "BUS-28"})
            return await with_timeout(_call(entry[1], m), limit, query_type)

        marker, result, error = await run_pipeline(self._middleware, Message(query_type, "query", payload), core)
        if marker is _ABORTED:
            raise aborted(query_type)
        if error is not None:
            raise error
        return result

    def has_handler(self, message_type: str) -> bool:
        return message_type in self._handlers

    def subscriber_count(self, event_type: str) -> int:
        return sum(1 for s in self._subs if s.event_type == event_type)

    def registered_types(self) -> List[str]:
        return sorted(self._handlers)

    async def clear(self) -> None:
        self._subs = []
        self._handlers = {}
        self._middleware = []
