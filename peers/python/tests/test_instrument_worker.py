"""The Python worker as a process: stdio lifecycle, a TCP port, fault injection, exit codes.
Every process started here is killed by its PID when a test ends."""
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from concord import FrameDecoder, decode_message, encode_frame, encode_message

WORKER = [sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "concord_instrument")]


def frame(type_, header, payload=None):
    return encode_frame(encode_message(type_, header, payload))


def cmd(id_, command, params=None):
    return frame("INSTRUMENT_COMMAND", {"id": id_}, {"command": command, **({"params": params} if params is not None else {})})


ACK = frame("INIT_ACK", {"id": "ack", "re": "worker-init"}, {
    "broker_id": "h", "client_id": "w", "protocol_version": "1.0", "encoding": "json",
    "max_frame": 16777216, "max_in_flight": 1024, "heartbeat_ms": 10000})


def run(args, stdin):
    p = subprocess.run(WORKER + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, [decode_message(b) for b in FrameDecoder().push(p.stdout)]


def test_stdio_lifecycle_in_order_then_exit_at_end_of_input():
    code, out = run([], ACK + cmd("1", "ping") + cmd("2", "pid_set_setpoint", {"value": 5}) + cmd("3", "pid_get_setpoint")
                    + cmd("4", "scope_acquire", {"decimation": 2}) + cmd("5", "bogus"))
    assert code == 0
    names = [m.name for m in out]
    assert names == ["INIT", "INSTRUMENT_EVENT", "INSTRUMENT_RESPONSE", "INSTRUMENT_RESPONSE", "INSTRUMENT_RESPONSE", "INSTRUMENT_RESPONSE", "ERROR", "INSTRUMENT_EVENT"]
    assert out[0].payload["role"] == "worker" and out[1].payload["event"] == "ready"
    assert [m.header["re"] for m in out[2:7]] == ["1", "2", "3", "4", "5"]
    assert out[4].payload["data"] == 8191 / 8192
    trace = out[5].payload["trace"]
    assert trace["samples"].shape == (16384,) and trace["dt"] == 2 * 8e-9 and trace["t0"] == -8192 * 2 * 8e-9
    assert out[6].payload["code"] == "UNKNOWN_COMMAND"
    assert out[7].payload == {"event": "final", "worker": out[1].payload["worker"], "mock": True, "exit_code": 0}


def test_shutdown_then_final_and_later_commands_refused():
    code, out = run([], ACK + cmd("s", "shutdown") + cmd("late", "ping"))
    assert code == 0
    assert [(m.name, m.header.get("re")) for m in out[2:]] == [("INSTRUMENT_RESPONSE", "s"), ("ERROR", "late"), ("INSTRUMENT_EVENT", None)]
    assert out[3].payload["code"] == "SHUTTING_DOWN" and out[4].payload["event"] == "final"


def test_faults_error_rate_and_drop():
    code, out = run(["--error-rate", "1"], ACK + cmd("a", "sampler_read") + cmd("b", "ping"))
    assert "error rate 1" in out[1].payload["detail"]
    assert out[2].payload["code"] == "HARDWARE_ERROR" and out[3].payload["data"] == "pong"
    code, out = run(["--drop-after", "2"], ACK + cmd("a", "ping") + cmd("b", "ping") + cmd("c", "ping"))
    assert code == 75 and [m.header.get("re") for m in out[2:]] == ["a"]


def test_usage_and_unreachable_broker_exit_codes():
    assert subprocess.run(WORKER + ["--error-rate", "2"], capture_output=True, timeout=30).returncode == 64
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert subprocess.run(WORKER + ["--broker", f"127.0.0.1:{port}"], capture_output=True, timeout=30).returncode == 69


@pytest.fixture
def listening():
    procs = []

    def start(args):
        p = subprocess.Popen(WORKER + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        line = p.stderr.readline().decode()
        m = re.search(r"listening on [^:]+:(\d+)", line)
        assert m, line
        return p, int(m.group(1))
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        p.stderr.close()


def talk(port, data, frames):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(data)
    dec, got = FrameDecoder(), []
    while len(got) < frames:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got += [decode_message(b) for b in dec.push(chunk)]
    return s, got


INIT = frame("INIT", {"id": "init"}, {"client_id": "c", "language": "python", "role": "client", "protocol_version": "1.0", "encodings": ["json"], "max_frame": 65536})


def test_port_settings_persist_across_connections_and_shutdown(listening):
    p, port = listening(["--port", "0"])
    s, got = talk(port, INIT + cmd("set", "pid_set_setpoint", {"channel": "pid1", "value": 0.5}), 3)
    assert [m.name for m in got] == ["INIT_ACK", "INSTRUMENT_EVENT", "INSTRUMENT_RESPONSE"]
    s.close()
    s, got = talk(port, INIT + cmd("get", "pid_get_setpoint", {"channel": "pid1"}) + cmd("bye", "shutdown"), 5)
    assert got[2].payload["data"] == 0.5 and got[3].header["re"] == "bye" and got[4].payload["event"] == "final"
    s.close()
    assert p.wait(timeout=20) == 0


def test_parent_death_ends_a_worker_whose_input_stays_open():
    # An intermediate shell starts the worker on an input pipe the test keeps open, then is killed.
    r, w = os.pipe()
    parent = subprocess.Popen(["sh", "-c", 'exec 3>&-; "$@" & echo $!; wait', "sh"] + WORKER, stdin=r, stdout=subprocess.PIPE)
    os.close(r)
    try:
        pid = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        os.close(w)
        parent.stdout.close()
        if _alive(pid):
            os.kill(pid, 9)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
