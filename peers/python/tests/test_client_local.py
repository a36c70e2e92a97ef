"""The client against a scripted broker in this process: faults that arrive with INIT_ACK, PINGs,
faulty frames, stray ERRORs and the broker's SHUTDOWN."""
import socket
import threading

import pytest

from concord import FrameDecoder, decode_message, encode_frame, encode_message
from concord.client import connect


class ScriptedBroker:
    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn = None
        self.decoder = FrameDecoder()
        self.queue = []

    def accept(self):
        self.conn, _ = self.server.accept()
        self.conn.settimeout(10)
        return self.next()

    def next(self):
        while not self.queue:
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.queue.extend(self.decoder.push(chunk))
        return decode_message(self.queue.pop(0))

    def ack_bytes(self, init):
        return encode_frame(encode_message("INIT_ACK", {"id": "ack", "re": init.header["id"]}, {
            "broker_id": "scripted", "client_id": init.payload["client_id"], "protocol_version": "1.0",
            "encoding": "json", "max_frame": 16777216, "max_in_flight": 4, "heartbeat_ms": 10000}))

    def close(self):
        for s in (self.conn, self.server):
            if s is not None:
                s.close()


@pytest.fixture
def scripted():
    b = ScriptedBroker()
    yield b
    b.close()


def _connect_in_thread(port, out):
    def run():
        try:
            out["client"] = connect("127.0.0.1", port, "local-1", retries=0, timeout=10)
        except Exception as e:  # noqa: BLE001
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_fault_in_the_same_segment_as_init_ack(scripted):
    out = {}
    t = _connect_in_thread(scripted.port, out)
    init = scripted.accept()
    assert init.name == "INIT" and init.encoding == "json" and init.payload["encodings"] == ["cbor", "json"]
    scripted.conn.sendall(scripted.ack_bytes(init) + b"\xff\xff\xff\xff")
    t.join(10)
    err = scripted.next()
    assert err.name == "ERROR" and err.payload["code"] == "FRAME_TOO_LARGE" and err.payload["details"]["limit"] == 16777216
    assert scripted.next() is None  # then the client closes
    out["client"].wait_closed(5)


def test_ping_faults_errors_and_shutdown(scripted):
    out = {}
    t = _connect_in_thread(scripted.port, out)
    init = scripted.accept()
    scripted.conn.sendall(scripted.ack_bytes(init))
    t.join(10)
    client = out["client"]
    send = scripted.conn.sendall
    send(encode_frame(encode_message("PING", {"id": "ü"})))
    pong = scripted.next()
    assert (pong.name, pong.header["re"]) == ("PONG", "ü")
    send(encode_frame(b"\x0a\x00\x00\x0c" + b'{"id":"odd"}'))
    e = scripted.next()
    assert (e.name, e.payload["code"], e.header["re"]) == ("ERROR", "UNKNOWN_TYPE", "odd")
    send(encode_frame(encode_message("ERROR", {"id": "stray", "re": "none"}, {"code": "INTERNAL", "message": "x", "definite": False})))
    send(encode_frame(encode_message("ACK", {"id": "r1", "re": "never-sent"}, {})))
    e = scripted.next()  # the ERROR is not answered; the uncorrelated ACK is
    assert (e.name, e.payload["code"], e.header["re"]) == ("ERROR", "UNEXPECTED_MESSAGE", "r1")
    send(encode_frame(encode_message("INIT", {"id": "wrong-way"}, init.payload)))
    e = scripted.next()
    assert (e.payload["code"], e.header["re"]) == ("UNEXPECTED_MESSAGE", "wrong-way")
    send(encode_frame(encode_message("ENCODING_REQ", {"id": "q1"}, {"text": "x"})))
    e = scripted.next()
    assert (e.payload["code"], e.header["re"]) == ("UNSUPPORTED", "q1")
    send(encode_frame(encode_message("SHUTDOWN", {"id": "bye"}, {"drain_ms": 500})))
    ack = scripted.next()
    assert (ack.name, ack.header["re"], ack.payload) == ("SHUTDOWN_ACK", "bye", {"drained": 0, "timed_out": 0})
    assert scripted.next() is None
    assert client.wait_closed(5) and client.close_reason == "shutdown"
