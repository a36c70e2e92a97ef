"""Python clients use the bus and the service registry of the reference broker (spec sections 9.6, 9.7):
a remote subscriber gets each event once, queries reach the handler of their type, and a dispatch
reaches a service registered by another client."""
import threading

import pytest

from concord.client import RemoteError, connect


def test_publish_query_and_dispatch_between_python_clients(broker):  # noqa: F811
    worker = connect("127.0.0.1", broker, "py-bus-worker")
    caller = connect("127.0.0.1", broker, "py-bus-caller")
    events = []
    lock = threading.Lock()

    def on_event(payload, message):
        with lock:
            events.append((payload["subscription_id"], payload["payload"]))
        return {}

    def on_query(payload, message):
        if payload.get("payload") == "boom":
            raise RemoteError("INVALID_PARAMS", "no boom", True)
        return {"result": {"echo": payload.get("payload"), "from": message.header.get("src")}}

    def on_dispatch(payload, message):
        return {"result": {"method": payload["method"], "args": payload.get("payload")}}

    worker.on("BUS_EVENT", on_event).on("BUS_QUERY", on_query).on("SERVICE_DISPATCH", on_dispatch)
    caller.on("BUS_EVENT", on_event)
    try:
        remote = worker.request("BUS_SUBSCRIBE", {"event_type": "trace.ready"})["subscription_id"]
        own = caller.request("BUS_SUBSCRIBE", {"event_type": "trace.ready"})["subscription_id"]
        assert caller.request("BUS_PUBLISH", {"event_type": "trace.ready", "payload": 1}) == {"delivered": 2, "failed": 0}
        assert worker.request("BUS_PUBLISH", {"event_type": "trace.ready", "payload": 2}) == {"delivered": 2, "failed": 0}
        assert sorted(events) == sorted([(remote, 1), (own, 1), (remote, 2), (own, 2)])  # each once (B12)

        worker.request("BUS_REGISTER_HANDLER", {"message_type": "engine.status", "category": "query"})
        with pytest.raises(RemoteError) as e:
            caller.request("BUS_REGISTER_HANDLER", {"message_type": "engine.status", "category": "command"})
        assert e.value.code == "HANDLER_EXISTS"
        assert caller.request("BUS_QUERY", {"message_type": "engine.status", "payload": 7}) == {"result": {"echo": 7, "from": "py-bus-caller"}}
        with pytest.raises(RemoteError) as e:
            caller.request("BUS_QUERY", {"message_type": "engine.status", "payload": "boom"})
        assert e.value.code == "HANDLER_FAILED" and e.value.details["error"]["code"] == "INVALID_PARAMS"

        worker.request("SERVICE_REGISTER", {"service": {"name": "py-scope", "service_type": "instrument", "version": "1.0.0", "max_concurrent": 2}})
        r = caller.request("SERVICE_DISPATCH", {"service_name": "py-scope", "method": "acquire", "payload": {"decimation": 64}, "timeout_ms": 10000})
        assert r == {"result": {"method": "acquire", "args": {"decimation": 64}}, "attempts": 1}
        listed = caller.request("SERVICE_LIST", {"name": "py-scope"})["services"]
        assert [(s["name"], s["current_load"]) for s in listed] == [("py-scope", 0)]
    finally:
        worker.close()
        caller.close()
