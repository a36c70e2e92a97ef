"""The Python engine reproduces fixtures/engine/engine.json bit for bit, every step through real frames."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from concord import NDArray, decode_message, encode_message_frame, FrameDecoder, message_info
from concord_engine import Engine, EngineError, xorshift32_draws
from concord_engine.handler import handle

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = json.load(open(os.path.join(ROOT, "fixtures", "engine", "engine.json")))


def f32(values):
    return NDArray("<f4", [len(values)], np.array([float(v) for v in values], dtype="<f4"))


def layer_weights(layer, seed):
    rows, cols = (512, 256, 128)[layer], (64, 512, 256)[layer]
    w = (xorshift32_draws(seed, rows * cols).astype(np.int64) >> 16) - 32768
    return NDArray("<i4", [rows, cols], w.astype("<i4"))


def request(step):
    op = step["op"]
    if op == "reason":
        return "REASONING_REQUEST", {"encoding": f32(step["encoding"]), "context": step["context"], "source": "pytest"}
    if op == "feedback":
        p = {"encoding": f32(step["encoding"]), "reward": step["reward"]}
        if "learning_rate" in step:
            p["learning_rate"] = step["learning_rate"]
        return "FEEDBACK", p
    if op == "parameter_sync":
        p = {"parameters": step["parameters"]}
        if "state_version" in step:
            p["state_version"] = int(step["state_version"])
        return "PARAMETER_SYNC", p
    if op == "state_update":
        return "STATE_UPDATE", {"layer": step["layer"], "weights": layer_weights(step["layer"], step["weights_seed"]), "state_version": int(step["state_version"])}
    if op == "batch":
        return "BATCH_REASONING_REQ", {"items": [{"encoding": f32(it["encoding"]), **({"context": it["context"]} if "context" in it else {})} for it in step["items"]], "source": "pytest"}
    if op == "mtl":
        p = {"coordination_id": step["coordination_id"], "teacher_outputs": step["teacher_outputs"]}
        if "encoding" in step:
            p["encoding"] = f32(step["encoding"])
        return "MTL_COORDINATE", p
    if op == "memory_update":
        p = {"key": step["key"], "encoding": f32(step["encoding"])}
        if "content" in step:
            p["content"] = step["content"]
        return "MEMORY_UPDATE", p
    if op == "encode":
        return "ENCODING_REQ", {"text": step["text"], **({"dim": step["dim"]} if "dim" in step else {})}
    raise AssertionError(op)


def wire(type_, payload):
    """Encode to a frame and decode it again, as a peer receives it."""
    frame = encode_message_frame(type_, {"id": "x", "re": "y"}, payload)
    (body,) = FrameDecoder().push(frame)
    m = decode_message(body)
    return m.payload


def f32_hex(a):
    """Float32 elements as little-endian bytes in hex (how the fixtures pin vectors)."""
    assert isinstance(a, NDArray) and a.dtype in ("<f4", ">f4"), a
    return np.asarray(a.data, dtype="<f4").tobytes().hex()


def check_reason(expect, got, where=""):
    assert got["spike_count"] == expect["spike_count"], where
    assert got["confidence"] == expect["confidence"], where
    assert bytes(np.asarray(got["firing_pattern"].data, dtype=np.uint8)).hex() == expect["firing_pattern_hex"], where
    assert f32_hex(got["activations"]) == expect["activations_hex"], where
    assert got["state_digest"] == expect["state_digest"], where


def run_step(engine, step):
    type_, payload = request(step)
    try:
        answer = wire(message_info(type_).response, handle(engine, type_, wire(type_, payload)))
    except EngineError as e:
        assert step.get("expect_error") == e.code, f"unexpected refusal {e.code}: {e.message}"
        return
    assert "expect_error" not in step, f"expected ERROR {step.get('expect_error')}"
    op, expect = step["op"], step.get("expect")
    if op == "reason":
        check_reason(expect, answer)
    elif op == "batch":
        assert len(answer["results"]) == len(expect)
        for i, (want, got) in enumerate(zip(expect, answer["results"])):
            assert got["ok"] == want["ok"], i
            if want["ok"]:
                check_reason(want["result"], got["result"], f"item {i}")
            else:
                assert got["error"]["code"] == want["code"]
    elif op == "mtl":
        assert answer["teacher_count"] == expect["teacher_count"]
        assert answer["disagreement"] == expect["disagreement"]
        assert answer["learning_rates"] == expect["learning_rates"]
        assert answer["state_digest"] == expect["state_digest"]
        assert str(answer["state_version"]) == expect["state_version"]
    elif op == "encode":
        assert answer["model"] == expect["model"]
        assert f32_hex(answer["encoding"]) == expect["encoding_hex"]
    elif expect is not None:
        assert answer["state_digest"] == expect["state_digest"]
        assert str(answer["state_version"]) == expect["state_version"]


def test_prng_draws():
    for p in FIX["prng"]:
        assert [int(v) for v in xorshift32_draws(p["seed"], len(p["draws"]))] == p["draws"]


def test_initial_digest():
    assert Engine("python", FIX["seed"]).digest == FIX["initial_digest"]


@pytest.mark.parametrize("scenario", FIX["scenarios"], ids=[s["id"] for s in FIX["scenarios"]])
def test_scenario(scenario):
    engine = Engine("python", FIX["seed"])
    for i, step in enumerate(scenario["steps"]):
        try:
            run_step(engine, step)
        except AssertionError as e:
            raise AssertionError(f"step {i} ({step['op']}): {e}") from None


def test_a_perturbed_engine_is_caught():
    engine = Engine("python", FIX["seed"])
    engine.parameter_sync({"threshold.layer2": 1})
    with pytest.raises(AssertionError):
        run_step(engine, FIX["scenarios"][0]["steps"][3])
