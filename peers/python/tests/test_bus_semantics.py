"""The Python bus peer (spec section bus-semantics): its own checks; the whole bus suite runs against it
through its adapter in `conformance selftest` (suite bus)."""
import asyncio
import json
import random
import subprocess
import sys

import pytest

from concord_bus import BusError, Coordinator, InMemoryBus, Middleware, backoff_ms

PEER = __import__("pathlib").Path(__file__).resolve().parents[1]


def run(coro):
    return asyncio.run(coro)


def test_publish_reaches_each_subscription_and_isolates_failures():
    async def go():
        bus = InMemoryBus()
        seen = []

        def f(m):
            seen.append(m.payload)

        async def broken(m):
            raise BusError("HARDWARE_ERROR", "x")

        await bus.subscribe("e", f)
        off = await bus.subscribe("e", f)
        await bus.subscribe("e", broken)
        await bus.publish("e", 1)
        await off()
        await off()
        await bus.publish("e", 2)
        await bus.publish("nobody", 3)
        return seen

    assert run(go()) == [1, 1, 2]


def test_handler_table_query_errors_and_timeout():
    async def go():
        bus = InMemoryBus(query_timeout_ms=50)
        await bus.register_handler("t", "command", lambda m: m.payload)
        with pytest.raises(BusError) as e:
            await bus.register_handler("t", "query", lambda m: 0)
        assert e.value.code == "HANDLER_EXISTS"
        assert await bus.query("t", 4) == 4
        await bus.send("none", 1)
        with pytest.raises(BusError) as e:
            await bus.query("none", 1)
        assert e.value.code == "NO_HANDLER"

        async def slow(m):
            await asyncio.sleep(10)

        await bus.register_handler("slow", "query", slow)
        with pytest.raises(BusError) as e:
            await bus.query("slow", None, 20)
        assert (e.value.code, e.value.details["timeout_ms"]) == ("TIMEOUT", 20)
        with pytest.raises(BusError) as e:
            await bus.query("slow", None, 0)
        assert e.value.details["timeout_ms"] == 50  # 0 means the default (BUS-29)

    run(go())


def test_middleware_order_abort_and_after_chain():
    order = []

    class Tag(Middleware):
        def __init__(self, name, abort=False):
            self.name, self.abort = name, abort

        async def before(self, ctx, m):
            order.append(f"{self.name}.before")
            return None if self.abort else m

        async def after(self, ctx, m, result, error):
            order.append(f"{self.name}.after")
            return {"result": f"{result}+{self.name}"}

    async def go():
        bus = InMemoryBus()
        await bus.register_handler("q", "query", lambda m: "h")
        bus.use(Tag("a"))
        bus.use(Tag("b"))
        assert await bus.query("q", None) == "h+b+a"
        bus.use(Tag("stop", abort=True))
        with pytest.raises(BusError) as e:
            await bus.query("q", None)
        assert e.value.code == "ABORTED"

    run(go())
    assert order == ["a.before", "b.before", "b.after", "a.after", "a.before", "b.before", "stop.before"]


@pytest.mark.parametrize("seed", [random.randrange(1 << 30)])
def test_concurrent_dispatch_never_exceeds_max_concurrent(seed):
    print(f"[properties] seed {seed}")
    rnd = random.Random(seed)
    loads = []

    async def go():
        co = Coordinator(InMemoryBus(), backoff_base_ms=1, on_load=lambda s, l: loads.append(l))
        limit = rnd.randint(1, 4)

        async def handler(call):
            await asyncio.sleep(0)
            if call["payload"] == "fail":
                raise BusError("HARDWARE_ERROR", "x")
            return call["payload"]

        await co.register_service({"name": "s", "service_type": "w", "max_concurrent": limit}, handler)
        kinds = [rnd.choice(["ok", "fail"]) for _ in range(rnd.randint(1, 25))]
        out = await asyncio.gather(*(co.dispatch({"service_name": "s", "method": "m", "max_retries": 1}, k) for k in kinds), return_exceptions=True)
        assert max(loads) <= limit
        assert co.load("s") == 0
        assert all(not isinstance(o, BaseException) or o.code in ("OVERLOADED", "HANDLER_FAILED") for o in out)

    run(go())


def test_retries_priority_and_backoff():
    async def go():
        co = Coordinator(InMemoryBus(), backoff_base_ms=1)
        calls = []

        async def flaky(call):
            calls.append(call["payload"])
            call["payload"]["n"] = 99
            if call["attempt"] < 3:
                raise BusError("HARDWARE_ERROR", f"attempt {call['attempt']}")
            return "ok"

        await co.register_service({"name": "f", "service_type": "w"}, flaky)
        payload = {"n": 1}
        assert await co.dispatch({"service_name": "f", "method": "m", "max_retries": 2}, payload) == {"result": "ok", "attempts": 3}
        assert payload == {"n": 1}
        order = []
        await co.register_service({"name": "p", "service_type": "w", "max_concurrent": 0}, lambda c: order.append(c["payload"]))
        await asyncio.gather(*(co.dispatch({"service_name": "p", "method": "m", "priority": p}, p) for p in ["idle", "normal", "realtime", "high", "low"]))
        assert order == ["realtime", "high", "normal", "low", "idle"]

    run(go())
    assert [backoff_ms(r) for r in range(1, 9)] == [100, 200, 400, 800, 1600, 3200, 5000, 5000]


def test_adapter_answers_each_line_and_exits_at_end_of_input():
    lines = [
        {"seq": 1, "op": "hello"},
        {"seq": 2, "op": "register_handler", "message_type": "q", "category": "query", "label": "h", "behaviour": {"kind": "echo"}},
        {"seq": 3, "op": "nonsense"},
    ]
    p = subprocess.run([sys.executable, str(PEER / "concord_bus_adapter.py")], input="\n".join(json.dumps(l) for l in lines) + "\nnot json\n",
                       capture_output=True, text=True, timeout=60)
    replies = {r["seq"]: r for r in map(json.loads, p.stdout.splitlines())}
    assert p.returncode == 0
    assert replies[1]["value"]["language"] == "python"
    assert replies[2]["ok"] is True
    assert replies[3]["error"]["code"] == "UNSUPPORTED"
    assert replies[None]["error"]["code"] == "INVALID_PAYLOAD"
