"""A broker killed and started again under traffic (HS-23 .. HS-25): the Python clients reconnect with
backoff, tell the application, restore their bus subscriptions (same ids for the application), bus
handlers and services, a request in flight at the drop fails with PEER_GONE (definite false), and
traffic carries on. Bounded: every wait below is a hang guard, the whole test well under 30 s once
the broker is up."""
import threading
import time

import pytest

from concord import IPCClient, NDArray
from concord.client import RemoteError
from concord.reconnect import connect_reconnecting

from broker_process import BrokerProcess, free_port

#: Hang guard for a reconnection and its restore (the backoff tops out at reconnect_backoff_max_ms).
RESTORE_BOUND_S = 30


class Events:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.seen = []

    def __call__(self, event, info):
        with self.cond:
            self.seen.append((event, info))
            self.cond.notify_all()

    def wait_for(self, event, count=1):
        with self.cond:
            ok = self.cond.wait_for(lambda: sum(1 for e, _ in self.seen if e == event) >= count, RESTORE_BOUND_S)
        assert ok, f"no {event!r} within {RESTORE_BOUND_S} s: {self.seen}"
        return [i for e, i in self.seen if e == event][count - 1]


@pytest.fixture(scope="module")
def broker():
    """One broker process for the module, restarted by the test that needs it."""
    b = BrokerProcess(free_port())
    b.start()
    yield b
    b.kill()


def test_clients_carry_on_across_a_broker_restart(broker):
    worker_events, caller_events = Events(), Events()
    worker = connect_reconnecting("127.0.0.1", broker.port, "py-rc-worker", on_connection=worker_events)
    caller = connect_reconnecting("127.0.0.1", broker.port, "py-rc-caller", on_connection=caller_events)
    delivered, slow_started, release = [], threading.Event(), threading.Event()
    stop = threading.Event()
    traffic = {"ok": 0, "peer_gone": 0, "ok_after": 0}

    def on_query(payload, message):
        if payload["message_type"] == "rc.slow":
            slow_started.set()
            release.wait(RESTORE_BOUND_S)
        return {"result": {"echo": payload.get("payload")}}

    def ping_loop():
        for _ in range(100_000):  # bounded in count and by stop
            if stop.is_set():
                return
            try:
                caller.ping(timeout=5)
                traffic["ok"] += 1
                if caller_events.seen and caller_events.seen[-1][0] == "restored":
                    traffic["ok_after"] += 1
            except RemoteError as e:
                assert e.code == "PEER_GONE", e
                traffic["peer_gone"] += 1
            time.sleep(0.01)

    worker.on("BUS_EVENT", lambda p, m: delivered.append((p["subscription_id"], p["payload"])) or {})
    worker.on("BUS_QUERY", on_query)
    worker.on("SERVICE_DISPATCH", lambda p, m: {"result": {"method": p["method"]}})
    pinger = threading.Thread(target=ping_loop, daemon=True)
    slow_error = []
    try:
        sid = worker.request("BUS_SUBSCRIBE", {"event_type": "rc.tick"})["subscription_id"]
        worker.request("BUS_REGISTER_HANDLER", {"message_type": "rc.echo", "category": "query"})
        worker.request("BUS_REGISTER_HANDLER", {"message_type": "rc.slow", "category": "query"})
        worker.request("SERVICE_REGISTER", {"service": {"name": "rc-svc", "service_type": "test", "version": "1.0.0", "max_concurrent": 2}})
        worker.request("BUS_UNREGISTER_HANDLER", {"message_type": "rc.slow"})  # forgotten: not restored
        worker.request("BUS_REGISTER_HANDLER", {"message_type": "rc.slow", "category": "query"})
        pinger.start()

        def slow():
            try:
                caller.request("BUS_QUERY", {"message_type": "rc.slow", "payload": 1}, timeout=RESTORE_BOUND_S)
            except RemoteError as e:
                slow_error.append(e)
        slow_thread = threading.Thread(target=slow, daemon=True)
        slow_thread.start()
        assert slow_started.wait(RESTORE_BOUND_S)

        broker.kill()
        slow_thread.join(RESTORE_BOUND_S)
        assert [(e.code, e.definite) for e in slow_error] == [("PEER_GONE", False)]  # HS-25: failed at once, not resent
        worker_events.wait_for("lost")
        broker.start()
        assert worker_events.wait_for("restored")["failures"] == []
        assert caller_events.wait_for("restored")["failures"] == []
        release.set()

        # Restored: the subscription (under the id the application was given), the handlers, the service.
        assert caller.request("BUS_PUBLISH", {"event_type": "rc.tick", "payload": 7}) == {"delivered": 1, "failed": 0}
        assert delivered == [(sid, 7)]
        assert caller.request("BUS_QUERY", {"message_type": "rc.echo", "payload": 3}) == {"result": {"echo": 3}}
        assert caller.request("SERVICE_DISPATCH", {"service_name": "rc-svc", "method": "m", "timeout_ms": 10000}) == {"result": {"method": "m"}, "attempts": 1}
        worker.request("BUS_UNSUBSCRIBE", {"subscription_id": sid})  # the original id still names it
        assert caller.request("BUS_PUBLISH", {"event_type": "rc.tick", "payload": 8}) == {"delivered": 0, "failed": 0}
        assert worker.reconnects == 1 and caller.reconnects == 1

        deadline = time.monotonic() + RESTORE_BOUND_S
        while traffic["ok_after"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert traffic["ok_after"] > 0, traffic  # the traffic carried on after the restart
    finally:
        stop.set()
        release.set()
        pinger.join(10)
        worker.close()
        caller.close()


def test_ipc_client_has_the_seed_names(broker):
    got = []
    client = IPCClient("py-ipc-1", language="cpp", port=broker.port)
    peer = IPCClient("py-ipc-2", port=broker.port)
    try:
        assert IPCClient("nobody", port=free_port()).connect(retries=0) is False
        assert client.connect() and peer.connect()
        client.register_handler("BUS_QUERY", lambda p, m: got.append(m.header.get("src")) or {"result": p["payload"]})
        client.send("BUS_REGISTER_HANDLER", {"message_type": "ipc.q", "category": "query"})
        assert peer.request("BUS_QUERY", {"message_type": "ipc.q", "payload": 1}) == {"result": 1}
        assert peer.send("STATS_REQUEST", {"client_id": "py-ipc-1"})["clients"][0]["language"] == "cpp"  # not fixed to python
        assert peer.connect()  # already connected: a no-op
        assert got == ["py-ipc-2"]
        # A typed helper: FEEDBACK without a handler is refused with UNSUPPORTED (ERR-8), then answered with ACK.
        feedback = {"encoding": NDArray.from_values("<f4", [4], [0.5, 0.25, 0, 1]), "reward": 0.5}
        with pytest.raises(RemoteError) as e:
            peer.send_feedback(feedback, dst="py-ipc-1", timeout=RESTORE_BOUND_S)
        assert e.value.code == "UNSUPPORTED"
        rewards = []
        client.register_handler("FEEDBACK", lambda p, m: rewards.append(p["reward"]) or {})
        peer.send_feedback(feedback, dst="py-ipc-1", timeout=RESTORE_BOUND_S)
        assert rewards == [0.5]
    finally:
        client.disconnect()
        peer.disconnect()
