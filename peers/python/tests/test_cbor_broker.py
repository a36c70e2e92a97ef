"""A Python client offers CBOR first, so the reference broker negotiates it and a CBOR request from
another peer reaches the client's handler (REQ-10); the client answers in JSON (ENC-1)."""
import socket
import time

import numpy as np

from concord import FrameDecoder, NDArray, decode_message, encode_message_frame
from concord.client import connect

BOTH = ("json", "cbor")


def _next(sock: socket.socket, decoder: FrameDecoder, queued: list, deadline: float):
    while not queued:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(1 << 16)
        assert chunk, "the broker closed the connection"
        queued.extend(decoder.push(chunk))
    return decode_message(queued.pop(0), encodings=BOTH)


def test_a_cbor_request_reaches_a_python_handler(broker):
    engine = connect("127.0.0.1", broker, "py-cbor-engine", role="engine")
    seen = {}

    def reason(payload, message):
        seen["encoding"] = message.encoding
        v = payload["encoding"].array
        return {"spike_count": int((v > 0.5).sum()), "confidence": 0.5, "firing_pattern": v > 0.5, "engine": "python", "latency_ms": 1.0}

    engine.on("REASONING_REQUEST", reason)
    sock = socket.create_connection(("127.0.0.1", broker), timeout=20)
    try:
        assert engine.encoding == "cbor"  # the broker took the client's first choice
        decoder, queued, deadline = FrameDecoder(), [], time.monotonic() + 30
        sock.sendall(encode_message_frame("INIT", {"id": "1"}, {
            "client_id": "py-cbor-sender", "language": "python", "role": "client", "protocol_version": "1.0",
            "encodings": ["cbor", "json"], "max_frame": 16777216}))
        ack = _next(sock, decoder, queued, deadline)
        assert (ack.name, ack.payload["encoding"]) == ("INIT_ACK", "cbor")
        vec = (np.arange(768, dtype=np.float32) / 768).astype(np.float32)
        sock.sendall(encode_message_frame("REASONING_REQUEST", {"id": "r1", "dst": "py-cbor-engine"},
                                          {"encoding": NDArray.from_numpy(vec), "context": "cbor", "source": "python"}, "cbor"))
        rsp = _next(sock, decoder, queued, deadline)
        assert (rsp.name, rsp.header["re"], rsp.encoding) == ("REASONING_RESPONSE", "r1", "json")
        assert seen == {"encoding": "cbor"}
        assert rsp.payload["spike_count"] == int((vec > 0.5).sum())
        assert np.array_equal(rsp.payload["firing_pattern"].array, vec > 0.5)
    finally:
        sock.close()
        engine.close(drain_ms=1000)
