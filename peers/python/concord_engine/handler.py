"""Engine requests (catalog payloads as the concord package decodes them) to Engine operations."""
from __future__ import annotations

from typing import Any, Dict

from concord import NDArray, proto

from .core import Engine, EngineError

M = proto.MessageName  # message names come from the generated catalog

ENGINE_REQUESTS = (M.REASONING_REQUEST, M.BATCH_REASONING_REQ, M.FEEDBACK, M.STATE_UPDATE, M.PARAMETER_SYNC, M.MTL_COORDINATE, M.MEMORY_UPDATE, M.ENCODING_REQ)


def _vector(v: Any):
    if isinstance(v, NDArray):
        return v.data
    raise EngineError("SCHEMA_VIOLATION", "encoding must be a float32 vector", {"path": "/encoding"})


def _result(r: Dict[str, Any]) -> Dict[str, Any]:
    """A reasoning result with its arrays as ndarray fields."""
    fp = r["firing_pattern"]
    r["firing_pattern"] = NDArray("|u1", [fp.size], fp)
    r["activations"] = NDArray("<f4", [r["activations"].size], r["activations"])
    return r


def handle(engine: Engine, name: str, p: Dict[str, Any]) -> Any:
    """The response payload; raises EngineError for a refusal."""
    if name == M.REASONING_REQUEST:
        return _result(engine.reason(_vector(p["encoding"])))
    if name == M.BATCH_REASONING_REQ:
        results = engine.reason_batch([_vector(it["encoding"]) for it in p["items"]])
        for item in results:
            if item["ok"]:
                _result(item["result"])
        return {"results": results}
    if name == M.FEEDBACK:
        return engine.feedback(_vector(p["encoding"]), p["reward"], p.get("learning_rate"))
    if name == M.STATE_UPDATE:
        w = p["weights"]
        return engine.state_update(p["layer"], w.dtype, w.shape, w.data, int(p["state_version"]))
    if name == M.PARAMETER_SYNC:
        v = p.get("state_version")
        return engine.parameter_sync(p["parameters"], None if v is None else int(v))
    if name == M.MTL_COORDINATE:
        enc = p.get("encoding")
        return engine.mtl_coordinate(p["coordination_id"], p["teacher_outputs"], None if enc is None else _vector(enc))
    if name == M.MEMORY_UPDATE:
        return engine.memory_update(p["key"], _vector(p["encoding"]), p.get("content"))
    if name == M.ENCODING_REQ:
        r = engine.encode(p["text"], p.get("dim"))
        return {"encoding": NDArray("<f4", [r["encoding"].size], r["encoding"]), "model": r["model"]}
    raise EngineError("UNSUPPORTED", f"an engine does not handle {name}")
