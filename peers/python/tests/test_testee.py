"""The testee adapter as a process: INIT first, echoes, ERRORs, exit 0 at end of input."""
import os
import subprocess
import sys

from concord import FrameDecoder, decode_message, encode_frame, encode_message
from concord.envelope import encode_envelope

TESTEE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "concord_testee.py")


def run(stdin: bytes):
    p = subprocess.run([sys.executable, TESTEE], input=stdin, capture_output=True, timeout=30)
    return p.returncode, [decode_message(b, encodings=("json", "cbor")) for b in FrameDecoder().push(p.stdout)]


def frame(type_, header, payload=None, encoding="json"):
    return encode_frame(encode_message(type_, header, payload, encoding))


def init_ack(encoding):
    return frame("INIT_ACK", {"id": "ack", "re": "testee-init"}, {
        "broker_id": "h", "client_id": "t", "protocol_version": "1.0", "encoding": encoding,
        "max_frame": 16777216, "max_in_flight": 1024, "heartbeat_ms": 10000})


ACK = init_ack("json")
PUBLISH = {"event_type": "e", "payload": {"k": [1, 2.5, None]}}


def test_init_echo_error_and_exit():
    bad_header = b"\x03\x00\x00\x02{}"
    code, out = run(ACK + frame("PING", {"id": "p1"}) + encode_frame(bad_header) + frame("PONG", {"id": "p2", "re": "x"}))
    assert code == 0
    init, echo, err, echo2 = out
    assert init.name == "INIT" and init.payload["role"] == "testee" and init.payload["language"] == "python"
    assert init.payload["encodings"] == ["json", "cbor"] and init.payload["features"] == ["cbor"]
    assert (echo.name, echo.header["re"]) == ("PING", "p1")
    assert err.name == "ERROR" and err.payload["code"] == "INVALID_HEADER" and "re" not in err.header
    assert (echo2.name, echo2.header["re"]) == ("PONG", "p2")


def test_closing_error_ends_output():
    code, out = run(ACK + b"\x00\x00\x00\x00" + frame("PING", {"id": "never"}))
    assert code == 0
    assert [m.name for m in out] == ["INIT", "ERROR"] and out[1].payload["code"] == "MALFORMED_FRAME"


def test_cbor_echoed_in_cbor_when_init_ack_chose_it():
    code, out = run(init_ack("cbor") + frame("BUS_PUBLISH", {"id": "c1"}, PUBLISH, "cbor") + frame("BUS_PUBLISH", {"id": "j1"}, PUBLISH))
    assert code == 0
    _, echo, echo_json = out
    assert (echo.name, echo.encoding, echo.header["re"], echo.payload) == ("BUS_PUBLISH", "cbor", "c1", PUBLISH)
    assert (echo_json.encoding, echo_json.header["re"]) == ("json", "j1")  # JSON stays accepted (ENC-1)


def test_cbor_refused_when_init_ack_chose_json():
    code, out = run(ACK + encode_frame(encode_envelope(0x03, "cbor", {"id": "c2"}, b"")) + frame("PING", {"id": "p3"}))
    assert code == 0
    _, err, pong = out
    assert (err.name, err.payload["code"], err.header["re"]) == ("ERROR", "UNSUPPORTED_ENCODING", "c2")  # ENC-3
    assert (pong.name, pong.header["re"]) == ("PING", "p3")
