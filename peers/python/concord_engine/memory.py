"""An engine's memory and encoder (spec section engine, ENG-19 and ENG-20): MEMORY_UPDATE entries by key,
ordered by when they were last stored, at most ENGINE_MEMORY_MAX; ENCODING_REQ recalls an entry whose
content is the text, else hashes the text (FNV-1a 32 seeding xorshift32). Exact in float32."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Tuple

import numpy as np

from concord import proto

from .core import INPUT_WIDTH, EngineError, xorshift32_draws

MEMORY_MODEL = "concord-memory"
HASH_MODEL = "concord-hash-encoder"


def fnv1a32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def hash_encode(text: str, dim: int) -> np.ndarray:
    """Element i = ((draw_i >> 8) - 2^23) / 2^23 over xorshift32 seeded by FNV-1a 32 of the UTF-8 bytes."""
    draws = xorshift32_draws(fnv1a32(text.encode("utf-8")), dim).astype(np.int64)
    return (((draws >> 8) - 8388608) / 8388608).astype("<f4")


class EngineMemory:
    def __init__(self, capacity: int = proto.ENGINE_MEMORY_MAX) -> None:
        if capacity < 1:
            raise ValueError(f"EngineMemory: capacity {capacity} is not a positive integer")
        self.capacity = capacity
        self.entries: "OrderedDict[str, Tuple[np.ndarray, Optional[str]]]" = OrderedDict()

    def store(self, key: str, elements: np.ndarray, content: Optional[str]) -> None:
        e = np.asarray(elements, dtype="<f4")
        bad = np.flatnonzero(~np.isfinite(e))
        if bad.size:
            raise EngineError("INVALID_ARRAY", f"encoding element {int(bad[0])} is not finite ({e[bad[0]]})", {"path": f"/encoding/{int(bad[0])}"})
        if key in self.entries:
            del self.entries[key]
        elif len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)  # the least recently stored
        self.entries[key] = (e.copy(), content)

    def recall(self, text: str) -> Optional[np.ndarray]:
        for elements, content in reversed(self.entries.values()):
            if content == text:
                return elements
        return None

    def encode(self, text: str, dim: Optional[int]) -> Tuple[np.ndarray, str]:
        d = INPUT_WIDTH if dim is None else dim
        entry = self.recall(text)
        if entry is None:
            return hash_encode(text, d), HASH_MODEL
        out = np.zeros(d, dtype="<f4")
        n = min(d, entry.size)
        out[:n] = entry[:n]
        return out, MEMORY_MODEL
