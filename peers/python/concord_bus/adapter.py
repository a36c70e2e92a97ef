"""The bus adapter (spec section bus-adapter) for the Python bus: JSON lines on stdio, each handled as
soon as it arrives (BUSA-2), one reply line per request (BUSA-1), exit 0 at end of input (BUSA-4).
Behaviours stand for handlers; every invocation is logged for the harness."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Callable, Dict, List, Optional

from .bus import InMemoryBus, Message, Middleware
from .coordinator import Coordinator
from .errors import BusError, ErrorCode, as_bus_error

HELLO = {"name": "concord-python-bus", "language": "python", "version": "0.1.0", "features": ["same-turn", "handler-check"]}


class _Gate:
    def __init__(self) -> None:
        self.event = asyncio.Event()


class _ScriptedMiddleware(Middleware):
    def __init__(self, session: "Session", label: str, before: Optional[Dict[str, Any]], after: Optional[Dict[str, Any]]) -> None:
        self.s, self.label, self.b, self.a = session, label, before or {"kind": "pass"}, after or {"kind": "pass"}

    async def before(self, ctx, message):
        self.s.log.append({"label": self.label, "role": "before", "type": ctx.message_type, "payload": message.payload})
        k = self.b["kind"]
        if k == "abort":
            return None
        if k == "fail":
            raise BusError(self.b["code"], self.b["message"])
        if k == "replace":
            return Message(self.b.get("type") or message.type, message.category, self.b.get("payload"))
        return message

    async def after(self, ctx, message, result, error):
        self.s.log.append({"label": self.label, "role": "after", "type": ctx.message_type, "payload": message.payload,
                           "result": result, "error": error.code if error else None})
        k = self.a["kind"]
        if k == "result":
            return {"result": self.a["value"]}
        if k == "recover":
            return {"result": self.a["value"], "error": None}
        if k == "error":
            return {"error": BusError(self.a["code"], self.a["message"])}
        return None


class Session:
    def __init__(self) -> None:
        self.log: List[Dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        for g in getattr(self, "gates", {}).values():
            g.event.set()  # nothing stays parked on a gate
        self.bus = InMemoryBus()
        self.coordinator = Coordinator(self.bus, backoff_base_ms=10)
        self.gates: Dict[str, _Gate] = {}
        self.subs: Dict[str, Callable] = {}
        self.by_label: Dict[str, Callable] = {}
        self.counter = 0
        self.log = []

    def gate(self, name: str) -> _Gate:
        if name not in self.gates:
            self.gates[name] = _Gate()
        return self.gates[name]

    async def behave(self, b: Dict[str, Any], payload: Any, calls: int) -> Any:
        k = b["kind"]
        if k == "return":
            return b.get("value")
        if k == "echo":
            return payload
        if k == "fail":
            raise BusError(b["code"], b["message"])
        if k == "fail_first":
            if calls <= b["times"]:
                raise BusError(b["code"], b["message"])
            return b.get("value")
        if k == "gate":
            await self.gate(b["gate"]).event.wait()
            return b["value"] if "value" in b else payload
        if k == "never":
            await asyncio.Event().wait()
        raise BusError(ErrorCode.UNSUPPORTED, f"unknown behaviour {k}")

    def handler(self, label: str, role: str, b: Dict[str, Any]) -> Callable:
        key = f"{role}:{label}:{json.dumps(b, sort_keys=True)}"
        if role == "subscriber" and key in self.by_label:
            return self.by_label[key]  # the same function for the same label (BUS-21)
        calls = [0]

        async def h(m: Message) -> Any:
            self.log.append({"label": label, "role": role, "type": m.type, "payload": m.payload})
            calls[0] += 1
            return await self.behave(b, m.payload, calls[0])

        self.by_label[key] = h
        return h

    def service(self, label: str, b: Dict[str, Any]) -> Callable:
        calls = [0]

        async def h(call: Dict[str, Any]) -> Any:
            self.log.append({"label": label, "role": "service", "type": label, "method": call["method"], "payload": call["payload"], "attempt": call["attempt"]})
            calls[0] += 1
            return await self.behave(b, call["payload"], calls[0])

        return h

    async def run(self, c: Dict[str, Any]) -> Any:
        op = c["op"]
        bus, co = self.bus, self.coordinator
        if op == "hello":
            return HELLO
        if op == "reset":
            self._reset()
            return None
        if op == "log":
            out, self.log = self.log, []
            return out
        if op == "open_gate":
            self.gate(c["gate"]).event.set()
            return None
        if op == "subscribe":
            off = await bus.subscribe(c["event_type"], self.handler(c["label"], "subscriber", c.get("behaviour") or {"kind": "return", "value": None}))
            self.counter += 1
            handle = f"s{self.counter}"
            self.subs[handle] = off
            return handle
        if op == "unsubscribe":
            off = self.subs.get(c["handle"])
            if off:
                await off()
            return None
        if op == "publish":
            return await bus.publish(c["event_type"], c.get("payload"))
        if op == "register_handler":
            return await bus.register_handler(c["message_type"], c["category"], self.handler(c["label"], "handler", c["behaviour"]))
        if op == "send":
            return await bus.send(c["message_type"], c.get("payload"))
        if op == "query":
            return await bus.query(c["message_type"], c.get("payload"), c.get("timeout_ms"))
        if op == "add_middleware":
            return bus.use(_ScriptedMiddleware(self, c["label"], c.get("before"), c.get("after")))
        if op == "has_handler":
            return bus.has_handler(c["message_type"])
        if op == "subscriber_count":
            return bus.subscriber_count(c["event_type"])
        if op == "registered_types":
            return bus.registered_types()
        if op == "clear":
            await bus.clear()
            self.subs.clear()
            return None
        if op == "register_service":
            # Without a behaviour, a service without a dispatch handler (feature handler-check, SVC-3).
            behaviour = c.get("behaviour")
            return await co.register_service(c["service"], None if behaviour is None else self.service(c["label"], behaviour))
        if op == "unregister_service":
            return await co.unregister_service(c["name"])
        if op == "set_health":
            return await co.set_health(c["name"], c["healthy"])
        if op == "get_service":
            return await co.get_service(c["name"])
        if op == "list_services":
            return await co.list_services(c.get("service_type"), c.get("healthy_only", True))
        if op == "dispatch":
            return await co.dispatch(c["target"], c.get("payload"))
        if op == "dispatch_batch":
            settled = await asyncio.gather(*(co.dispatch(i["target"], i.get("payload")) for i in c["items"]), return_exceptions=True)
            return [{"ok": False, "error": {"code": as_bus_error(s).code, "message": str(s)}} if isinstance(s, BaseException) else {"ok": True, "value": s} for s in settled]
        if op == "broadcast":
            return await co.broadcast(c["event_type"], c.get("payload"))
        if op == "request":
            return await co.request(c["service_name"], c["query_type"], c.get("payload"), c.get("timeout_ms"))
        raise BusError(ErrorCode.UNSUPPORTED, f"unknown op {op}")

    async def handle(self, req: Dict[str, Any]) -> Dict[str, Any]:
        try:
            return {"seq": req["seq"], "ok": True, "value": await self.run(req)}
        except Exception as e:
            err = as_bus_error(e)
            error: Dict[str, Any] = {"code": err.code, "message": err.message}
            if err.details:
                error["details"] = err.details
            return {"seq": req["seq"], "ok": False, "error": error}


def _write(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def main() -> int:
    loop = asyncio.get_running_loop()
    # A reader thread rather than connect_read_pipe: stdin may be a file or /dev/null, which epoll refuses.
    stdin = sys.stdin.buffer
    session = Session()
    tasks = set()
    while True:
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict) or not isinstance(req.get("seq"), int) or not isinstance(req.get("op"), str):
                raise ValueError('a request is {"seq": number, "op": string, ...}')
        except ValueError as e:
            _write({"seq": None, "ok": False, "error": {"code": "INVALID_PAYLOAD", "message": f"not a request line: {e}"}})
            continue

        async def one(r: Dict[str, Any]) -> None:
            _write(await session.handle(r))

        t = asyncio.create_task(one(req))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    session._reset()  # end of input: gates released (BUSA-4)
    if tasks:
        await asyncio.wait(tasks, timeout=1.0)
    return 0
