"""State, forward pass, Hebbian learning, state sync, digest and MTL of spec section engine.

Integers only (numpy int64 holds every sum exactly: magnitudes stay below 2^42); the one float
division gives the confidence; MTL arithmetic is float64 in the spec's order, like the other engines."""
from __future__ import annotations

import hashlib
import math
import re
import struct
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

INPUT_WIDTH = 64
LAYER_SIZES = (512, 256, 128)
LAYER_INPUTS = (INPUT_WIDTH, 512, 256)
DEFAULT_SEED = 42
DEFAULT_LR_Q = 655
WEIGHT_LIMIT = 1_048_576
DIGEST_PREFIX = b"concord-engine/1"
ZERO_SEED = 0x9E3779B9
_THRESHOLD = re.compile(r"^threshold\.layer([0-2])$")


class EngineError(Exception):
    """A refusal with a code from the error registry (spec/errors.json)."""

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def xorshift32_draws(seed: int, n: int) -> np.ndarray:
    """n draws of xorshift32 (uint32) from `seed` (0 replaced by 0x9E3779B9)."""
    s = seed or ZERO_SEED
    out = np.empty(n, dtype=np.uint32)
    m = 0xFFFFFFFF
    for i in range(n):
        s ^= (s << 13) & m
        s ^= s >> 17
        s ^= (s << 5) & m
        out[i] = s
    return out


def draw_weights(seed: int) -> List[np.ndarray]:
    sizes = [n * k for n, k in zip(LAYER_SIZES, LAYER_INPUTS)]
    draws = xorshift32_draws(seed, sum(sizes)).astype(np.int64)
    w = (draws >> 16) - 32768
    out, at = [], 0
    for (n, k), size in zip(zip(LAYER_SIZES, LAYER_INPUTS), sizes):
        out.append(w[at:at + size].reshape(n, k).copy())
        at += size
    return out


def fold_input(encoding: np.ndarray) -> np.ndarray:
    """floor(e x 256) clamped to int16, summed by index mod 64, clamped again."""
    e = np.asarray(encoding, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(e))
    if bad.size:
        raise EngineError("INVALID_ARRAY", f"encoding element {int(bad[0])} is not finite ({e[bad[0]]})", {"path": f"/encoding/{int(bad[0])}"})
    q = np.clip(np.floor(e * 256.0), -32768, 32767).astype(np.int64)
    pad = (-q.size) % INPUT_WIDTH
    x = np.concatenate([q, np.zeros(pad, dtype=np.int64)]).reshape(-1, INPUT_WIDTH).sum(axis=0)
    return np.clip(x, -32768, 32767)


def activations_of(output_sums: np.ndarray) -> np.ndarray:
    """ENG-18: each output-layer sum clamped to +-2^24, over 2^24 (exact in float32)."""
    return (np.clip(output_sums, -16777216, 16777216) / 16777216).astype("<f4")


def _f32(v: float) -> float:
    return struct.unpack("<f", struct.pack("<f", v))[0]


class Engine:
    def __init__(self, name: str = "python", seed: int = DEFAULT_SEED, memory_max: Optional[int] = None) -> None:
        from .memory import EngineMemory  # here, not at the top: memory.py builds on this module

        self.memory = EngineMemory() if memory_max is None else EngineMemory(memory_max)
        self.name = name
        self.seed = seed
        self.weights = draw_weights(seed)
        self.thresholds = [0, 0, 0]
        self.lr_q = DEFAULT_LR_Q
        self.version = 0
        self.digest = self._digest()

    # ---- state ------------------------------------------------------------------------------
    def _digest(self) -> str:
        h = hashlib.sha256(DIGEST_PREFIX)
        for w in self.weights:
            h.update(w.astype("<i4").tobytes())
        h.update(np.array(self.thresholds + [self.lr_q], dtype="<i4").tobytes())
        return h.hexdigest()

    def _changed(self) -> Dict[str, Any]:
        self.digest = self._digest()
        return {"state_digest": self.digest, "state_version": self.version}

    # ---- reasoning ----------------------------------------------------------------------------
    def forward(self, encoding: np.ndarray):
        x = fold_input(encoding)
        s0 = (self.weights[0] @ x) > self.thresholds[0]
        s1 = (self.weights[1] @ s0.astype(np.int64)) > self.thresholds[1]
        p2 = self.weights[2] @ s1.astype(np.int64)
        return x, s0, s1, p2 > self.thresholds[2], p2

    def reason(self, encoding: np.ndarray) -> Dict[str, Any]:
        started = time.perf_counter()
        _, s0, s1, s2, p2 = self.forward(encoding)
        pattern = np.concatenate([s0, s1, s2]).astype(np.uint8)
        return {
            "spike_count": int(pattern.sum()), "confidence": int(s2.sum()) * 512 / 65536,
            "firing_pattern": pattern, "activations": activations_of(p2), "engine": self.name,
            "latency_ms": _f32((time.perf_counter() - started) * 1000.0), "state_digest": self.digest,
        }

    def reason_batch(self, encodings: Sequence[np.ndarray]) -> List[Dict[str, Any]]:
        out = []
        for e in encodings:
            try:
                out.append({"ok": True, "result": self.reason(e)})
            except EngineError as err:
                out.append({"ok": False, "error": {"code": err.code, "message": err.message}})
        return out

    # ---- memory and encodings ----------------------------------------------------------------
    def memory_update(self, key: str, encoding: np.ndarray, content: Optional[str] = None) -> Dict[str, Any]:
        """ENG-19: stores the entry; the state (digest, version) is unchanged."""
        self.memory.store(key, encoding, content)
        return {"state_digest": self.digest, "state_version": self.version}

    def encode(self, text: str, dim: Optional[int] = None) -> Dict[str, Any]:
        """ENG-20: the memory's entry for the text, else the hash encoder."""
        encoding, model = self.memory.encode(text, dim)
        return {"encoding": encoding, "model": model}

    # ---- learning and sync --------------------------------------------------------------------
    @staticmethod
    def _lr_q(rate: float, param: str = "learning_rate") -> int:
        if not (0 < rate <= 1):
            raise EngineError("INVALID_PARAMS", f"{param} {rate} is outside (0, 1]", {"param": param})
        return max(1, math.floor(rate * 65536))

    def _hebbian(self, encoding: np.ndarray, reward: float, learning_rate: Optional[float]) -> None:
        if not (-1 <= reward <= 1):
            raise EngineError("INVALID_PARAMS", f"reward {reward} is outside [-1, 1]", {"param": "reward"})
        x, s0, s1, s2, _ = self.forward(encoding)
        r_q = math.floor(reward * 256)
        l_q = self.lr_q if learning_rate is None else self._lr_q(learning_rate)
        delta = (r_q * l_q) // 256  # Python's // rounds towards minus infinity, as the spec says
        if delta:
            w0, w1, w2 = self.weights
            w0[s0, :] = np.clip(w0[s0, :] + delta * np.sign(x), -WEIGHT_LIMIT, WEIGHT_LIMIT)
            w1[np.ix_(s1, s0)] = np.clip(w1[np.ix_(s1, s0)] + delta, -WEIGHT_LIMIT, WEIGHT_LIMIT)
            w2[np.ix_(s2, s1)] = np.clip(w2[np.ix_(s2, s1)] + delta, -WEIGHT_LIMIT, WEIGHT_LIMIT)
        self.version += 1

    def feedback(self, encoding: np.ndarray, reward: float, learning_rate: Optional[float] = None) -> Dict[str, Any]:
        self._hebbian(encoding, reward, learning_rate)
        return self._changed()

    def state_update(self, layer: int, dtype: str, shape: Sequence[int], data: np.ndarray, version: int) -> Dict[str, Any]:
        if layer not in (0, 1, 2):
            raise EngineError("INVALID_PARAMS", f"layer {layer} is not 0, 1 or 2", {"param": "layer"})
        if dtype not in ("<i4", ">i4"):
            raise EngineError("INVALID_PARAMS", f"weights must be int32, got {dtype}", {"param": "weights"})
        rows, cols = LAYER_SIZES[layer], LAYER_INPUTS[layer]
        if tuple(shape) != (rows, cols):
            raise EngineError("INVALID_PARAMS", f"layer {layer} weights must have shape [{rows}, {cols}], got {list(shape)}", {"param": "weights"})
        w = np.asarray(data, dtype=np.int64).reshape(rows, cols)
        if w.size and (w.min() < -WEIGHT_LIMIT or w.max() > WEIGHT_LIMIT):
            raise EngineError("INVALID_PARAMS", f"a weight is outside [-{WEIGHT_LIMIT}, {WEIGHT_LIMIT}]", {"param": "weights"})
        self.weights[layer] = w.copy()
        self.version = version
        return self._changed()

    def parameter_sync(self, parameters: Dict[str, float], version: Optional[int] = None) -> Dict[str, Any]:
        seed = lr_q = None
        thresholds: List[Optional[int]] = [None, None, None]
        for name, v in parameters.items():
            def bad(why: str) -> EngineError:
                return EngineError("INVALID_PARAMS", f"parameter {name}: {why}", {"param": name})
            integral = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
            t = _THRESHOLD.match(name)
            if name == "seed":
                if not integral or not (0 <= v <= 0xFFFFFFFF):
                    raise bad(f"{v} is not an integer 0 to 4294967295")
                seed = int(v)
            elif name == "learning_rate":
                if not (0 < v <= 1):
                    raise bad(f"{v} is outside (0, 1]")
                lr_q = self._lr_q(v)
            elif t:
                if not integral or not (-2**31 <= v <= 2**31 - 1):
                    raise bad(f"{v} is not an int32")
                thresholds[int(t.group(1))] = int(v)
            else:
                raise bad("unknown parameter (known: seed, learning_rate, threshold.layer0, threshold.layer1, threshold.layer2)")
        if seed is not None:
            self.seed = seed
            self.weights = draw_weights(seed)
        if lr_q is not None:
            self.lr_q = lr_q
        for i, t in enumerate(thresholds):
            if t is not None:
                self.thresholds[i] = t
        self.version = self.version + 1 if version is None else version
        return self._changed()

    def mtl_coordinate(self, coordination_id: str, teachers: Sequence[Dict[str, Any]], encoding: Optional[np.ndarray]) -> Dict[str, Any]:
        n = len(teachers)
        if n < 2:
            raise EngineError("SCHEMA_VIOLATION", "MTL_COORDINATE needs at least two teachers", {"path": "/teacher_outputs"})
        total = 0.0
        for t in teachers:
            total += t["confidence"]
        mean = total / n
        sq = 0.0
        for t in teachers:
            sq += (t["confidence"] - mean) * (t["confidence"] - mean)
        d = math.sqrt(sq / n)
        b = self.lr_q / 65536
        rates = {t["teacher_id"]: min(1.0, max(0.0, b * (1 + (mean - t["confidence"])))) for t in teachers}
        if encoding is not None:
            self._hebbian(encoding, min(1.0, max(-1.0, 1 - 4 * d)), None)
        ack = self._changed()
        return {"coordination_id": coordination_id, "teacher_count": n, "disagreement": _f32(d), "learning_rates": rates, **ack}
