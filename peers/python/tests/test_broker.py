"""Two Python clients talk through the reference broker: a REASONING_REQUEST carrying a 768-element
float32 ndarray and its REASONING_RESPONSE, routed by dst."""

import numpy as np
import pytest

from concord import NDArray
from concord.client import RemoteError, connect


def test_reasoning_request_through_the_broker(broker):
    engine = connect("127.0.0.1", broker, "py-engine", role="engine")
    asker = connect("127.0.0.1", broker, "py-asker")
    seen = {}

    def reason(payload, message):
        v = payload["encoding"].array
        seen["src"] = message.header.get("src")
        seen["shape"] = v.shape
        fired = v > 0.5
        return {"spike_count": int(fired.sum()), "confidence": float(np.float32(v.mean())), "firing_pattern": fired,
                "engine": "python", "latency_ms": 0.25, "activations": v[:8].astype(np.float32)}

    engine.on("REASONING_REQUEST", reason)
    try:
        vec = (np.arange(768, dtype=np.float32) / 768).astype(np.float32)
        rsp = asker.request("REASONING_REQUEST", {"encoding": vec, "context": "pytest", "source": "python"}, dst="py-engine", timeout=20)
        assert seen == {"src": "py-asker", "shape": (768,)}
        assert rsp["spike_count"] == int((vec > 0.5).sum())
        assert rsp["confidence"] == float(np.float32(vec.mean()))
        assert isinstance(rsp["firing_pattern"], NDArray) and rsp["firing_pattern"].dtype == "|b1"
        assert np.array_equal(rsp["firing_pattern"].array, vec > 0.5)
        assert np.array_equal(rsp["activations"].array, vec[:8])
        # an unknown destination comes back as a RemoteError with the registry's definite value
        with pytest.raises(RemoteError) as e:
            asker.request("REASONING_REQUEST", {"encoding": vec, "context": "x", "source": "python"}, dst="nobody", timeout=20)
        assert e.value.code == "UNKNOWN_DESTINATION" and e.value.definite is True
        # a type the engine has no handler for is refused by it with UNSUPPORTED
        with pytest.raises(RemoteError) as e:
            asker.request("ENCODING_REQ", {"text": "hello"}, dst="py-engine", timeout=20)
        assert e.value.code == "UNSUPPORTED"
        assert asker.ping(timeout=10) >= 0
    finally:
        asker.close(drain_ms=1000)
        engine.close(drain_ms=1000)
    assert asker.closed.is_set() and engine.closed.is_set()
    assert asker.close_reason == "closed"
