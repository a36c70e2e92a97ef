"""Round trips and the codec's rules beyond the fixtures: chunking, limits, every dtype, the
validator's keywords and precedence."""
import json
import math

import numpy as np
import pytest

from concord import CATALOG, FrameDecoder, NDArray, ProtocolError, decode_message, encode_frame, encode_message, message_info
from concord.framing import MAX_FRAME
from concord.ndarray import DTYPES, MAX_NDIM, pack, unpack
from concord.payload import decode_payload, encode_payload, payload_from_fixture, payload_to_fixture
from helpers import first_difference


def _examples():
    return [(m.name, i, ex) for m in sorted(CATALOG.values(), key=lambda m: m.code) for i, ex in enumerate(m.examples)]


EXAMPLES = _examples()


@pytest.mark.parametrize("name,i,example", EXAMPLES, ids=[f"{n}-{i}" for n, i, _ in EXAMPLES])
def test_catalog_example_roundtrip(name, i, example):
    info = message_info(name)
    value = payload_from_fixture(info, example)
    body = encode_message(name, {"id": f"rt-{i}", "ts": "1700000000000000000"}, value)
    m = decode_message(body)
    assert m.name == name and m.header == {"id": f"rt-{i}", "ts": "1700000000000000000"}
    assert first_difference(payload_to_fixture(info, m.payload), example) is None
    assert encode_message(name, {"id": f"rt-{i}", "ts": "1700000000000000000"}, m.payload) == body


def test_every_type_has_an_example():
    assert {n for n, _, _ in EXAMPLES} == {e.name for e in CATALOG.values()}


def test_frame_decoder_any_chunking():
    frames = b"".join(encode_frame(encode_message("PING", {"id": str(i)})) for i in range(5))
    for split in range(1, len(frames)):
        d = FrameDecoder()
        bodies = d.push(frames[:split]) + d.push(frames[split:])
        assert [decode_message(b).header["id"] for b in bodies] == [str(i) for i in range(5)]
    d = FrameDecoder()
    bodies = [b for i in range(len(frames)) for b in d.push(frames[i:i + 1])]
    assert len(bodies) == 5 and not d.mid_frame


def test_frame_too_large_on_the_prefix_alone():
    d = FrameDecoder(max_frame=65536)
    d.push(b"\x00\x01")
    assert d.mid_frame
    with pytest.raises(ProtocolError) as e:
        d.push(b"\x00\x01")  # 65537
    assert e.value.code == "FRAME_TOO_LARGE" and e.value.closes and e.value.details["limit"] == 65536
    assert d.buffered_bytes == 0
    with pytest.raises(ProtocolError):
        d.push(b"x")  # failed for good


def test_frames_before_a_fault_are_handed_over():
    good = encode_frame(encode_message("PING", {"id": "a"}))
    with pytest.raises(ProtocolError) as e:
        FrameDecoder().push(good + b"\x00\x00\x00\x00")
    assert e.value.code == "MALFORMED_FRAME" and len(e.value.frames_before) == 1


@pytest.mark.parametrize("code", sorted(DTYPES))
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4)])
def test_ndarray_every_dtype(code, shape):
    name, kind, size = DTYPES[code]
    n = math.prod(shape)
    if kind == "b":
        values = np.arange(n) % 2 == 0
    elif kind == "f":
        values = np.linspace(-1.5, 2.5, n)
    else:
        info = np.iinfo(np.dtype(code))
        values = np.array([info.min, info.max, 0, 1, 7, 42][:n] + [3] * max(0, n - 6), dtype=np.dtype(code))
    a = np.asarray(values).astype(np.dtype(code)).reshape(shape)
    arr = NDArray.from_numpy(a, meta={"unit": "V"} if n else None)
    assert arr.dtype == code
    back = unpack(pack(arr))
    assert back.dtype == code and back.shape == shape and back.meta == arr.meta
    assert np.array_equal(back.array, a)
    assert back.array.dtype.str == code


def test_ndarray_64bit_exact_and_32_dims():
    u = NDArray.from_values("<u8", [3], [2 ** 64 - 1, 2 ** 63 + 1, 0])
    assert unpack(pack(u)).tolist() == [2 ** 64 - 1, 2 ** 63 + 1, 0]
    i = NDArray.from_values(">i8", [2], [-(2 ** 63), 2 ** 63 - 1])
    assert unpack(pack(i)).tolist() == [-(2 ** 63), 2 ** 63 - 1]
    deep = NDArray.from_numpy(np.ones((1,) * MAX_NDIM, dtype="<f4"))
    assert unpack(pack(deep)).shape == (1,) * MAX_NDIM
    raw = bytearray(pack(deep))
    raw[0] = MAX_NDIM + 1
    with pytest.raises(ProtocolError) as e:
        unpack(bytes(raw))
    assert e.value.rule == "ndim-range"


def test_native_order_refused():
    raw = pack(NDArray.from_values("<f4", [1], [1.0])).replace(b"<f4", b"=f4")
    with pytest.raises(ProtocolError) as e:
        unpack(raw)
    assert e.value.rule == "dtype-unknown"


REQ = message_info("REASONING_REQUEST")


def _req(**kw):
    p = {"encoding": NDArray.from_numpy(np.zeros(4, dtype="<f4")), "context": "c", "source": "python"}
    p.update(kw)
    return p


def test_numpy_arrays_accepted_when_encoding():
    v = np.arange(768, dtype=np.float32) / 7
    m = decode_payload(REQ, "json", encode_payload(REQ, _req(encoding=v)))
    assert np.array_equal(m["encoding"].array, v)


def _fault(info, text):
    with pytest.raises(ProtocolError) as e:
        decode_payload(info, "json", text.encode("utf-8") if isinstance(text, str) else text)
    return e.value.code, e.value.details.get("path"), e.value.details.get("rule")


INIT = message_info("INIT")
BASE_INIT = '"client_id":"a","language":"python","role":"client","protocol_version":"1.0","encodings":["json"]'


@pytest.mark.parametrize("text,expected", [
    ("{" + BASE_INIT + ',"max_frame":65536.0}', None),  # ENC-14
    ("{" + BASE_INIT + ',"max_frame":6.5536e4}', None),
    ("{" + BASE_INIT + ',"max_frame":65536.5}', ("SCHEMA_VIOLATION", "/max_frame", "type")),
    ("{" + BASE_INIT + ',"max_frame":1e400}', ("INVALID_PAYLOAD", "", None)),
    ("{" + BASE_INIT + ',"max_frame":NaN}', ("INVALID_PAYLOAD", "", None)),
    ("{" + BASE_INIT + ',"max_frame":65536} x', ("INVALID_PAYLOAD", "", None)),
    ("{" + BASE_INIT + ',"max_frame":65536}\r\n\t ', None),
    ('{"client_id":"a","language":"python","role":"client","protocol_version":"1.0\\n","encodings":["json"],"max_frame":65536}',
     ("SCHEMA_VIOLATION", "/protocol_version", "pattern")),
    ('{"client_id":"a","language":"python","role":"client","protocol_version":"1.0","encodings":["cbor"],"max_frame":65536}',
     ("SCHEMA_VIOLATION", "/encodings", "contains")),
    ('{"client_id":"a","language":"python","role":"client","protocol_version":"1.0","encodings":["json","json"],"max_frame":65536}',
     ("SCHEMA_VIOLATION", "/encodings", "uniqueItems")),
    ('{"client_id":"a","language":5,"role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536}',
     ("SCHEMA_VIOLATION", "/language", "type")),
    # LIM-6: 65 characters in 130 bytes of UTF-8 are over the 128-byte limit of a Name.
    ('{"client_id":"' + "é" * 65 + '","language":"python","role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536}',
     ("SCHEMA_VIOLATION", "/client_id", "maxBytes")),
    ("[]", ("SCHEMA_VIOLATION", "", "type")),
])
def test_init_rules(text, expected):
    if expected is None:
        decode_payload(INIT, "json", text.encode())
    else:
        assert _fault(INIT, text) == expected


def test_precedence_and_keywords():
    # INVALID_ARRAY (step 7) before SCHEMA_VIOLATION (step 8)
    assert _fault(REQ, '{"encoding":[1,2],"context":5,"source":"x"}') == ("INVALID_ARRAY", "/encoding", "wrapper")
    assert _fault(REQ, b'\xef\xbb\xbf{}') == ("INVALID_PAYLOAD", "", None)
    assert _fault(REQ, b'{"context":"\xff"}') == ("INVALID_PAYLOAD", "", None)
    assert _fault(REQ, b"") == ("INVALID_PAYLOAD", "", None)
    ps = message_info("PARAMETER_SYNC")
    assert _fault(ps, '{"parameters":{"Bad":1}}') == ("SCHEMA_VIOLATION", "/parameters", "pattern")
    assert _fault(ps, '{"parameters":{"ok":"x"}}') == ("SCHEMA_VIOLATION", "/parameters/ok", "type")
    assert _fault(ps, '{"parameters":{"ok":1},"state_version":8}') == ("SCHEMA_VIOLATION", "/state_version", "int64")
    assert _fault(ps, '{"parameters":{"ok":1},"state_version":"-0"}') == ("SCHEMA_VIOLATION", "/state_version", "int64")
    v = decode_payload(ps, "json", b'{"parameters":{"ok":1},"state_version":"18446744073709551615"}')
    assert v["state_version"] == 2 ** 64 - 1
    assert json.loads(encode_payload(ps, v))["state_version"] == "18446744073709551615"
    assert _fault(message_info("PING"), "{}") == ("SCHEMA_VIOLATION", "", "empty")


def test_float32_fields_written_as_binary32():
    rsp = message_info("REASONING_RESPONSE")
    p = {"spike_count": 3, "confidence": 0.85, "firing_pattern": NDArray.from_numpy(np.array([True, False])),
         "engine": "python", "latency_ms": 1.5}
    wire = json.loads(encode_payload(rsp, p))
    assert wire["confidence"] == 0.8500000238418579


def test_header_rules():
    from concord.envelope import decode_header
    for raw, path in [(b'{"id":""}', "/header/id"), (b'{"id":1}', "/header/id"), (b'{"id":"a","ts":"01"}', "/header/ts"),
                      (b'{"id":"a","dst":"a\\u0007"}', "/header/dst"), (b"[1]", "/header"), (b"\xef\xbb\xbf{}", "/header"),
                      (b'{"id":"a","re":null}', "/header/re"), (b'{"id":"a","ts":"18446744073709551616"}', "/header/ts")]:
        with pytest.raises(ProtocolError) as e:
            decode_header(raw)
        assert (e.value.code, e.value.path) == ("INVALID_HEADER", path), raw
    h = decode_header('{"id":"ü","x":1e400,"ts":"18446744073709551615"}'.encode())
    assert h["id"] == "ü"
    with pytest.raises(ProtocolError) as e:
        decode_header(b'{"id":"' + b"a" * 4100 + b'"}')
    assert e.value.details == {"path": "/header", "limit": 4096}


def test_error_constants_from_the_registry():
    e = ProtocolError("INVALID_HEADER", "x", "/header")
    assert e.to_payload() == {"code": "INVALID_HEADER", "message": "x", "definite": True, "details": {"path": "/header"}}
    assert not e.closes and ProtocolError("MALFORMED_FRAME", "x").closes
    with pytest.raises(ValueError):
        ProtocolError("NOT_A_CODE", "x")


def test_max_frame_constant():
    assert MAX_FRAME == 16 * 1024 * 1024
