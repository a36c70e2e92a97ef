"""The testee adapter as a process: INIT first, echoes, ERRORs, exit 0 at end of input."""
import os
import subprocess
import sys

from concord import FrameDecoder, decode_message, encode_frame, encode_message

TESTEE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "concord_testee.py")


def run(stdin: bytes):
    p = subprocess.run([sys.executable, TESTEE], input=stdin, capture_output=True, timeout=30)
    return p.returncode, [decode_message(b) for b in FrameDecoder().push(p.stdout)]


def frame(type_, header, payload=None):
    return encode_frame(encode_message(type_, header, payload))


ACK = frame("INIT_ACK", {"id": "ack", "re": "testee-init"}, {
    "broker_id": "h", "client_id": "t", "protocol_version": "1.0", "encoding": "json",
    "max_frame": 16777216, "max_in_flight": 1024, "heartbeat_ms": 10000})


def test_init_echo_error_and_exit():
    bad_header = b"\x03\x00\x00\x02{}"
    code, out = run(ACK + frame("PING", {"id": "p1"}) + encode_frame(bad_header) + frame("PONG", {"id": "p2", "re": "x"}))
    assert code == 0
    init, echo, err, echo2 = out
    assert init.name == "INIT" and init.payload["role"] == "testee" and init.payload["language"] == "python"
    assert init.payload["encodings"] == ["json"] and init.payload["features"] == []
    assert (echo.name, echo.header["re"]) == ("PING", "p1")
    assert err.name == "ERROR" and err.payload["code"] == "INVALID_HEADER" and "re" not in err.header
    assert (echo2.name, echo2.header["re"]) == ("PONG", "p2")


def test_closing_error_ends_output():
    code, out = run(ACK + b"\x00\x00\x00\x00" + frame("PING", {"id": "never"}))
    assert code == 0
    assert [m.name for m in out] == ["INIT", "ERROR"] and out[1].payload["code"] == "MALFORMED_FRAME"
