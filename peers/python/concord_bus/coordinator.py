"""The in-process coordinator (SVC-1, SVC-2, SVC-3, SVC-4, SVC-5, SVC-6, SVC-7, SVC-8, SVC-9, SVC-10, SVC-11, SVC-12, SVC-13): existence, health, handler and max_concurrent checks; a
timeout per attempt; retries with min(base x 2^(r-1), DISPATCH_BACKOFF_MAX_MS) ms backoff; priority order within a turn;
the load counter restored exactly once per dispatch."""
from __future__ import annotations

import asyncio
import copy
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from .bus import InMemoryBus, _call, with_timeout
from .errors import BusError, ErrorCode, as_bus_error, proto

PRIORITIES = ["realtime", "high", "normal", "low", "idle"]
#: Defaults of a dispatch target (SVC-6, SVC-7) and of the backoff (SVC-8), from the spec.
DEFAULT_DISPATCH_TIMEOUT_MS = proto.DISPATCH_TIMEOUT_MS
DEFAULT_MAX_RETRIES = proto.DISPATCH_MAX_RETRIES
DEFAULT_BACKOFF_BASE_MS = proto.DISPATCH_BACKOFF_BASE_MS
MAX_BACKOFF_MS = proto.DISPATCH_BACKOFF_MAX_MS

DispatchHandler = Callable[[Dict[str, Any]], Any]


def backoff_ms(retry: int, base_ms: int = DEFAULT_BACKOFF_BASE_MS) -> int:
    return proto.dispatch_backoff_ms(retry, base_ms)


class _Service:
    def __init__(self, descriptor: Dict[str, Any], handler: Optional[DispatchHandler]) -> None:
        self.descriptor = descriptor
        self.handler = handler
        self.load = 0


class Coordinator:
    def __init__(self, bus: InMemoryBus, backoff_base_ms: int = DEFAULT_BACKOFF_BASE_MS, on_load: Optional[Callable[[str, int], None]] = None) -> None:
        self.bus = bus
        self._services: Dict[str, _Service] = {}
        self._waiting: List[Tuple[int, int, "asyncio.Future[None]"]] = []
        self._scheduled = False
        self._seq = 0
        self._base = backoff_base_ms
        self._on_load = on_load or (lambda s, l: None)

    async def register_service(self, descriptor: Dict[str, Any], handler: Optional[DispatchHandler] = None) -> None:
        name = descriptor["name"]
        if name in self._services:
            raise BusError(ErrorCode.SERVICE_EXISTS, f"service {name} is already registered", {"statement": "SVC-1"})
        d = {"version": "1.0.0", "capabilities": [], "max_concurrent": 10, "healthy": True, "metadata": {}}
        d.update({k: copy.deepcopy(v) for k, v in descriptor.items() if k != "current_load"})
        self._services[name] = _Service(d, handler)

    def register_handler(self, service_name: str, handler: DispatchHandler) -> None:
        s = self._services.get(service_name)
        if s is None:
            raise BusError(ErrorCode.SERVICE_NOT_FOUND, f"no service {service_name} is registered")
        s.handler = handler

    async def unregister_service(self, name: str) -> bool:
        return self._services.pop(name, None) is not None

    async def set_health(self, name: str, healthy: bool) -> None:
        s = self._services.get(name)
        if s is None:
            raise BusError(ErrorCode.SERVICE_NOT_FOUND, f"no service {name} is registered")
        s.descriptor["healthy"] = healthy

    def _view(self, s: _Service) -> Dict[str, Any]:
        d = copy.deepcopy(s.descriptor)
        d["current_load"] = s.load
        return d

    async def get_service(self, name: str) -> Optional[Dict[str, Any]]:
        s = self._services.get(name)
        return self._view(s) if s else None

    async def list_services(self, service_type: Optional[str] = None, healthy_only: bool = True) -> List[Dict[str, Any]]:
        out = [self._view(s) for s in self._services.values()
               if (service_type is None or s.descriptor["service_type"] == service_type) and (not healthy_only or s.descriptor.get("healthy", True))]
        return sorted(out, key=lambda d: d["name"].encode("utf-8"))

    def load(self, name: str) -> Optional[int]:
        s = self._services.get(name)
        return s.load if s else None

    def _set_load(self, s: _Service, load: int) -> None:
        s.load = load
        self._on_load(s.descriptor["name"], load)

    async def dispatch(self, target: Dict[str, Any], payload: Any) -> Dict[str, Any]:
        name = target["service_name"]
        s = self._services.get(name)  # SVC-3, in order
        if s is None:
            raise BusError(ErrorCode.SERVICE_NOT_FOUND, f"no service {name} is registered", {"statement": "SVC-3"})
        if s.descriptor.get("healthy", True) is False:
            raise BusError(ErrorCode.SERVICE_UNHEALTHY, f"{name} is unhealthy", {"statement": "SVC-3"})
        if s.handler is None:
            raise BusError(ErrorCode.NO_HANDLER, f"{name} has no dispatch handler", {"statement": "SVC-3"})
        rank = PRIORITIES.index(target.get("priority") or "normal")
        await self._turn(rank)  # SVC-10
        limit = s.descriptor.get("max_concurrent") or 0
        if limit > 0 and s.load >= limit:
            raise BusError(ErrorCode.OVERLOADED, f"{name} already runs {s.load} dispatches (max_concurrent {limit})", {"limit": limit, "statement": "SVC-3"})
        self._set_load(s, s.load + 1)
        try:
            return await self._attempts(s, target, payload)
        finally:
            self._set_load(s, s.load - 1)  # exactly once (SVC-5)

    async def _attempts(self, s: _Service, target: Dict[str, Any], payload: Any) -> Dict[str, Any]:
        timeout_ms = target.get("timeout_ms") or DEFAULT_DISPATCH_TIMEOUT_MS
        retries = target.get("max_retries")
        retries = DEFAULT_MAX_RETRIES if retries is None else retries
        last: Optional[BusError] = None
        label = f"{s.descriptor['name']}.{target['method']}"
        for attempt in range(1, retries + 2):
            if attempt > 1:
                await asyncio.sleep(backoff_ms(attempt - 1, self._base) / 1000)
            call = {"method": target["method"], "payload": copy.deepcopy(payload), "attempt": attempt}  # SVC-9
            try:
                result = await with_timeout(_call(s.handler, call), timeout_ms, label)
                return {"result": result, "attempts": attempt}
            except BusError as e:
                if e.code == "TIMEOUT" and e.details.get("timeout_ms") == timeout_ms:
                    raise BusError(ErrorCode.TIMEOUT, str(e), {"timeout_ms": timeout_ms, "attempts": attempt, "statement": "SVC-6"}) from None
                last = e
            except Exception as e:
                last = as_bus_error(e)
        assert last is not None
        raise BusError(ErrorCode.HANDLER_FAILED, f"{label} failed {retries + 1} times",
                       {"error": {"code": last.code, "message": last.message}, "attempts": retries + 1, "statement": "SVC-7"})

    def _turn(self, rank: int) -> "asyncio.Future[None]":
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()
        self._waiting.append((rank, self._seq, fut))
        self._seq += 1
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._drain)
        return fut

    def _drain(self) -> None:
        self._scheduled = False
        turn = sorted(self._waiting, key=lambda w: (w[0], w[1]))
        self._waiting = []
        for _r, _s, fut in turn:
            if not fut.done():
                fut.set_result(None)

    async def broadcast(self, event_type: str, payload: Any) -> None:
        await self.bus.publish(event_type, payload)  # SVC-12

    async def request(self, service_name: str, query_type: str, payload: Any, timeout_ms: Optional[int] = None) -> Dict[str, Any]:
        try:
            return {"result": await self.bus.query(query_type, payload, timeout_ms)}
        except Exception as e:  # never raises (SVC-13)
            err = as_bus_error(e)
            return {"error": {"code": err.code, "message": err.message}}
