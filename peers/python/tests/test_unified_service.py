"""A Python client uses the unified engine service (`concord engine serve --unified`) through the broker:
the `engine` hint and the python_first strategy, cache hits, FEEDBACK to every engine, redundant agreement,
failover when an engine process is killed, and redundant fallback to the engine that is left (ENG-11,
ENG-9, ENG-10, ENG-11, ENG-12, ENG-13, ENG-14, ENG-15). Every process is started here and stopped by its PID."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from concord.client import RemoteError, connect
from concord_engine.service import UnifiedEngineClient

from conftest import REPO

PY_ENGINE = "svc-engine-python"
TS_ENGINE = "svc-engine-typescript"


def start(args):
    return subprocess.Popen(args, cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def encoding(seed, n=768):
    return np.random.default_rng(seed).uniform(-2, 2, n).astype("<f4")


def wait_for(what, attempt, seconds=60):
    """Retries `attempt` (a request) until it answers, bounded; the last error explains a failure."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attempt()
        except RemoteError as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not answer within {seconds} s: {e}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def service(broker):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    node_cli = ["node", "--import", "tsx", str(REPO / "reference" / "cli.ts")]
    procs = {
        "python": start([sys.executable, str(REPO / "peers" / "python" / "concord_engine"), "--port", str(broker), "--id", PY_ENGINE]),
        "typescript": start(node_cli + ["engine", "serve", "--port", str(broker), "--id", TS_ENGINE]),
    }
    client_id = f"py-unified-user-{os.getpid()}"
    client = connect("127.0.0.1", broker, client_id)
    signals = []
    signalled = threading.Event()
    client.on("DISAGREEMENT_SIGNAL", lambda payload, *_: (signals.append(payload), signalled.set()))
    try:
        probe = {"encoding": encoding(0, 4), "context": "attach", "source": "python"}
        for engine_id in (PY_ENGINE, TS_ENGINE):
            wait_for(engine_id, lambda: client.request("REASONING_REQUEST", probe, dst=engine_id, timeout=10))
        procs["service"] = start(node_cli + ["engine", "serve", "--unified", "--port", str(broker), "--strategy", "python_first",
                                             "--engines", f"{PY_ENGINE}:python,{TS_ENGINE}:typescript",
                                             "--disagreement-threshold", "0.01", "--observers", client_id])
        unified = UnifiedEngineClient(client)
        wait_for("the unified engine service", unified.status)
        yield unified, procs, (signals, signalled)
    finally:
        client.close(drain_ms=500)
        for p in procs.values():
            stop(p)


def test_strategy_hints_cache_feedback_redundancy_mtl_and_failover(service):
    unified, procs, (signals, signalled) = service
    # python_first over a python and a typescript engine: calls 0-3 of every 5 to python, call 4 to typescript.
    engines = [unified.reason(encoding(100 + i))["engine"] for i in range(10)]
    assert engines.count(PY_ENGINE) == 8 and engines.count(TS_ENGINE) == 2, engines
    # A language hint puts that language's engine first.
    assert unified.reason(encoding(200), engine="typescript")["engine"] == TS_ENGINE
    assert unified.reason(encoding(201), engine="python")["engine"] == PY_ENGINE

    # The same encoding and context again is a cache hit, counted in the metrics.
    before = unified.status()["metrics"]
    first = unified.reason(encoding(300), "cache")
    again = unified.reason(encoding(300), "cache")
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["spike_count"] == first["spike_count"] and again["state_digest"] == first["state_digest"]
    after = unified.status()["metrics"]
    assert after["cache_hits"] == before["cache_hits"] + 1 and after["cache_misses"] == before["cache_misses"] + 1

    # FEEDBACK reaches every engine: the cache is emptied and both engines move to the same digest.
    ack = unified.feedback(encoding(300), 0.75)
    third = unified.reason(encoding(300), "cache")
    assert third["cached"] is False and third["state_digest"] == ack["state_digest"]
    assert unified.status()["metrics"]["cache_invalidations"] > after["cache_invalidations"]

    # Redundant: both engines answer, with each one's confidence, and agree bit for bit.
    red = unified.reason(encoding(400), engine="redundant")
    assert [r["engine"] for r in red["engine_results"]] == [PY_ENGINE, TS_ENGINE]
    assert red["agreement"] is True and red["engine_results"][0]["confidence"] == red["engine_results"][1]["confidence"]
    status = unified.status()["status"]
    assert status["python_engine_active"] is True and status["strategy"] == "python_first"

    # The MTL loop through the service, with teachers from different seeds: the TypeScript engine is reseeded
    # (directly, not through the service), so the two teachers disagree and the observer gets a signal.
    unified.client.request("PARAMETER_SYNC", {"parameters": {"seed": 7}}, dst=TS_ENGINE, timeout=20)
    sync = unified.mtl_round("mtl-py-1", encoding(450), teachers=("python", "typescript"))
    assert [t["teacher_id"] for t in sync["teacher_outputs"]] == [PY_ENGINE, TS_ENGINE]
    confidences = [t["confidence"] for t in sync["teacher_outputs"]]
    assert sync["disagreement"] == pytest.approx(abs(confidences[0] - confidences[1]) / 2, rel=1e-6) and sync["disagreement"] > 0.01
    assert set(sync["learning_rates"]) == {PY_ENGINE, TS_ENGINE}
    assert signalled.wait(20), "no DISAGREEMENT_SIGNAL reached the observer"
    assert signals[0]["coordination_id"] == "mtl-py-1" and signals[0]["teacher_ids"] == [PY_ENGINE, TS_ENGINE]
    assert signals[0]["disagreement_score"] == sync["disagreement"] and signals[0]["threshold"] == 0.01

    # Kill the Python engine process: a call for python fails over to the TypeScript engine.
    failovers = unified.status()["metrics"]["failovers"]
    stop(procs["python"], signal.SIGKILL)
    moved = unified.reason(encoding(500), engine="python")
    assert moved["engine"] == TS_ENGINE
    assert unified.status()["metrics"]["failovers"] > failovers

    # Redundant with one engine gone: the survivor's answer, without a comparison.
    alone = unified.reason(encoding(501), engine="redundant")
    assert alone["engine"] == TS_ENGINE and "agreement" not in alone and "engine_results" not in alone


def test_an_unknown_hint_is_refused_before_sending(service):
    unified, _, _ = service
    with pytest.raises(ValueError):
        unified.reason(encoding(1), engine="fastest")
