"""The unified engine service from Python (spec section engine, ENG-9, ENG-10, ENG-11, ENG-12, ENG-13, ENG-14, ENG-15): a thin helper over a
connected concord Client that routes engine requests to the service (`unified-engine` by default) with
the `engine` hint, and reads its metrics and status (ENGINE_STATUS_REQ, protocol 1.1)."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from concord import NDArray, proto

M = proto.MessageName
UNIFIED_ENGINE_ID = "unified-engine"
HINTS = ("auto", "typescript", "python", "cpp", "redundant")


def _vector(encoding: Any) -> NDArray:
    if isinstance(encoding, NDArray):
        return encoding
    return NDArray("<f4", [len(encoding)], np.asarray(encoding, dtype="<f4"))


class UnifiedEngineClient:
    """reason(), feedback(), parameter_sync() and status() against a unified engine service."""

    def __init__(self, client: Any, service: str = UNIFIED_ENGINE_ID, timeout: float = 30.0) -> None:
        self.client = client
        self.service = service
        self.timeout = timeout

    def reason(self, encoding: Any, context: str = "", engine: str = "auto", source: str = "python") -> Dict[str, Any]:
        """The chosen engine's REASONING_RESPONSE (with `cached`, and `engine_results`/`agreement` in redundant mode);
        raises RemoteError naming every engine tried (details.attempts) when none answered."""
        if engine not in HINTS:
            raise ValueError(f"UnifiedEngineClient.reason: engine {engine!r} is not one of {', '.join(HINTS)}")
        payload = {"encoding": _vector(encoding), "context": context, "source": source, "engine": engine}
        return self.client.request(M.REASONING_REQUEST, payload, dst=self.service, timeout=self.timeout)

    def feedback(self, encoding: Any, reward: float, learning_rate: Optional[float] = None) -> Dict[str, Any]:
        """FEEDBACK applied by every engine behind the service; the ACK's state_digest and state_version."""
        payload: Dict[str, Any] = {"encoding": _vector(encoding), "reward": reward}
        if learning_rate is not None:
            payload["learning_rate"] = learning_rate
        return self.client.request(M.FEEDBACK, payload, dst=self.service, timeout=self.timeout)

    def parameter_sync(self, parameters: Dict[str, float]) -> Dict[str, Any]:
        return self.client.request(M.PARAMETER_SYNC, {"parameters": parameters}, dst=self.service, timeout=self.timeout)

    def coordinate(self, coordination_id: str, teacher_outputs: Any, encoding: Any = None) -> Dict[str, Any]:
        """One MTL round over the teachers' outputs (teacher_id, confidence, spike_count): every engine behind the
        service applies it; the TEACHER_SYNC with the disagreement and each teacher's learning rate."""
        payload: Dict[str, Any] = {"coordination_id": coordination_id,
                                   "teacher_outputs": [{"teacher_id": t["teacher_id"], "confidence": t["confidence"], "spike_count": t["spike_count"]} for t in teacher_outputs]}
        if encoding is not None:
            payload["encoding"] = _vector(encoding)
        return self.client.request(M.MTL_COORDINATE, payload, dst=self.service, timeout=self.timeout)

    def mtl_round(self, coordination_id: str, encoding: Any, teachers: Any = ("python", "cpp")) -> Dict[str, Any]:
        """The MTL loop's one round: each teacher (an engine hint) answers the encoding, then the round is coordinated."""
        outputs = []
        for hint in teachers:
            r = self.reason(encoding, f"mtl {coordination_id} {hint}", engine=hint)
            outputs.append({"teacher_id": r["engine"], "confidence": r["confidence"], "spike_count": r["spike_count"]})
        sync = self.coordinate(coordination_id, outputs, encoding)
        sync["teacher_outputs"] = outputs
        return sync

    def status(self) -> Dict[str, Any]:
        """{"metrics": {...}, "status": {...}}: the service's getMetrics() and getStatus()."""
        return self.client.request(M.ENGINE_STATUS_REQ, {}, dst=self.service, timeout=self.timeout)
