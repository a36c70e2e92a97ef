"""A C++ client and a Python client exchange reasoning requests and responses carrying 768-element
float32 arrays through the TypeScript reference broker, in both directions.

The answer rule is shared with cpp-client/tools/reasoning_peer.cpp: activations are the encoding
reversed and negated (exact in IEEE 754), firing_pattern is encoding > 0, spike_count its count and
confidence spike_count / size in float32. Both sides check every answer bit for bit.

The C++ peer is built by `npm test` (cmake) before pytest runs; run alone, the test is skipped when
the binary is missing unless CONCORD_REQUIRE_CPP=1, which `npm test` sets."""
import os
import subprocess

import numpy as np
import pytest

from concord.client import connect
from conftest import REPO

PEER_BINARY = REPO / "cpp-client" / "build" / "concord-reasoning-peer"
COUNT = 20
SIZE = 768


@pytest.fixture(scope="module")
def cpp_peer_binary():
    if not PEER_BINARY.exists():
        if os.environ.get("CONCORD_REQUIRE_CPP") == "1":
            pytest.fail(f"{PEER_BINARY.relative_to(REPO)} is missing: build cpp-client first")
        pytest.skip("cpp-client is not built (cmake -S cpp-client -B cpp-client/build && cmake --build cpp-client/build)")
    return str(PEER_BINARY)


def answer(v, engine):
    assert v.dtype == np.float32
    fired = v > 0
    spikes = int(fired.sum())
    return {"spike_count": spikes, "confidence": float(np.float32(spikes) / np.float32(v.size)),
            "firing_pattern": fired.astype(np.uint8), "activations": -v[::-1], "engine": engine, "latency_ms": 0.0}


def test_python_asks_and_cpp_answers(broker, cpp_peer_binary):
    name = f"cpp-engine-{os.getpid()}"
    server = subprocess.Popen([cpp_peer_binary, "--port", str(broker), "--serve", name],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    asker = None
    try:
        line = server.stdout.readline().decode()
        assert line.strip() == f"ready {name}", f"C++ peer did not start: {line!r} {server.stderr.read1(4096)!r}"
        asker = connect("127.0.0.1", broker, f"py-asker-{os.getpid()}")
        rng = np.random.default_rng(7)
        for k in range(COUNT):
            vec = rng.standard_normal(SIZE).astype(np.float32)
            rsp = asker.request("REASONING_REQUEST", {"encoding": vec, "context": f"python to C++ {k}", "source": "python"},
                                dst=name, timeout=20)
            want = answer(vec, rsp["engine"])
            assert rsp["engine"] == f"cpp:{name}"
            assert rsp["spike_count"] == want["spike_count"]
            assert np.float32(rsp["confidence"]).tobytes() == np.float32(want["confidence"]).tobytes()
            assert np.array_equal(rsp["firing_pattern"].array.astype(np.uint8), want["firing_pattern"])
            got = rsp["activations"].array
            assert got.dtype == np.float32 and got.shape == (SIZE,)
            assert got.tobytes() == want["activations"].tobytes()
    finally:
        if asker is not None:
            asker.close(drain_ms=1000)
        server.stdin.close()  # the peer serves until its stdin closes
        assert server.wait(20) == 0, server.stderr.read().decode()


def test_cpp_asks_and_python_answers(broker, cpp_peer_binary):
    name = f"py-engine-{os.getpid()}"
    engine = connect("127.0.0.1", broker, name, role="engine")
    served = []

    def reason(payload, message):
        served.append(message.header.get("src"))
        return answer(payload["encoding"].array, f"python:{name}")

    engine.on("REASONING_REQUEST", reason)
    try:
        run = subprocess.run([cpp_peer_binary, "--port", str(broker), "--ask", name, "--count", str(COUNT), "--size", str(SIZE)],
                             capture_output=True, timeout=120)
        assert run.returncode == 0, run.stderr.decode()
        assert run.stdout.decode().strip() == f"ok {COUNT}"
        assert len(served) == COUNT and all(src.startswith("cpp-asker-") for src in served)
    finally:
        engine.close(drain_ms=1000)
