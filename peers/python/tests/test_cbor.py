"""CBOR payloads as strict as the reference codec (ENC-8, ENC-9, ENC-10, ENC-11, LIM-15, LIM-16): every RFC 8949
Appendix A item as a value where the catalog allows any value, the faults cbor2 alone would let
through, and what the encoder writes."""
import math

import cbor2
import numpy as np
import pytest

from concord import NDArray, ProtocolError, message_info, pack_ndarray
from concord._spec import proto
from concord.payload import decode_payload, encode_payload
from conftest import load_vectors
from helpers import first_difference

PUBLISH = message_info("BUS_PUBLISH")  # `payload` allows any value
STATE = message_info("STATE_UPDATE")  # `state_version` is a uint64 field, `weights` an ndarray field
RFC = load_vectors("cbor/rfc8949-appendix-a.json")
NOTATION_FAULTS = ("$tag", "$bytes", "$undefined", "$simple")


def _text(s: str) -> bytes:
    return bytes([0x60 + len(s)]) + s.encode()


def publish(item: bytes) -> bytes:
    """{"event_type": "e", "payload": ITEM} in CBOR."""
    return b"\xa2" + _text("event_type") + _text("e") + _text("payload") + item


def expected(decoded, path="/payload"):
    """(path of the first value outside the payload data model, or None; the accepted value)."""
    if isinstance(decoded, dict):
        if any(k in decoded for k in NOTATION_FAULTS):
            return path, None
        if "$float" in decoded:
            f = decoded["$float"]
            return (None, -0.0) if f == "-0" else (path, None)
        if "$bigint" in decoded:
            n = int(decoded["$bigint"])
            return (None, float(n)) if float(n) == n else (path, None)
        if "$map" in decoded:
            out = {}
            for k, v in decoded["$map"]:
                if not isinstance(k, str):
                    return path, None
                fault, out[k] = expected(v, f"{path}/{k}")
                if fault:
                    return fault, None
            return None, out
        out = {}
        for k, v in decoded.items():
            fault, out[k] = expected(v, f"{path}/{k}")
            if fault:
                return fault, None
        return None, out
    if isinstance(decoded, list):
        out = []
        for i, v in enumerate(decoded):
            fault, value = expected(v, f"{path}/{i}")
            if fault:
                return fault, None
            out.append(value)
        return None, out
    return None, decoded


def refused(m, data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as e:
        decode_payload(m, "cbor", data)
    return e.value


@pytest.mark.parametrize("v", RFC, ids=[v["id"] for v in RFC])
def test_rfc8949_item_in_an_any_field(v):
    fault, value = expected(v["decoded"])
    if bytes.fromhex(v["hex"])[0] >> 5 == 6:
        fault = "/payload"  # a tag, even where typed JSON writes its value (bignums as $bigint)
    data = publish(bytes.fromhex(v["hex"]))
    if fault is not None:
        e = refused(PUBLISH, data)
        assert (e.code, e.path) == ("INVALID_PAYLOAD", fault), e.message
        return
    got = decode_payload(PUBLISH, "cbor", data)["payload"]
    assert first_difference(got, value) is None, (got, value)
    if isinstance(value, float) and value == 0:
        assert math.copysign(1, got) == math.copysign(1, value)


def test_publish_helper_builds_the_map():
    assert cbor2.loads(publish(b"\x01")) == {"event_type": "e", "payload": 1}


@pytest.mark.parametrize("item,path", [
    ("a10102", "/payload"),  # an integer map key, which a decoder that stringifies keys would hide (ENC-8)
    ("f0", "/payload"),  # simple(16), named by its path (ENC-11)
    ("82f5f8ff", "/payload/1"),  # simple(255)
    ("c24101", "/payload"),  # a bignum tag, which cbor2 would turn into a plain int
    ("d9d9f701", "/payload"),  # the self-described CBOR tag 55799, which cbor2 drops
    ("1bffffffffffffffff", "/payload"),  # 2^64-1 has no exact double value outside a 64-bit field
    ("a1616b5f4101ff", "/payload/k"),  # an indefinite-length byte string
])
def test_data_model_faults_name_the_value(item, path):
    e = refused(PUBLISH, publish(bytes.fromhex(item)))
    assert (e.code, e.path) == ("INVALID_PAYLOAD", path), e.message


@pytest.mark.parametrize("item", ["1c", "5f01ff", "ff", "f818", "7f6161", "62c328", "8201"])
def test_not_well_formed_is_refused_at_the_root(item):
    # reserved info 28, a non-string chunk, a lone break, simple(24) in two bytes, an unclosed
    # indefinite string, text that is not UTF-8, a truncated array (ENC-8)
    e = refused(PUBLISH, publish(bytes.fromhex(item)))
    assert (e.code, e.path) == ("INVALID_PAYLOAD", ""), e.message


def test_malformed_anywhere_wins_over_an_earlier_data_model_fault():
    e = refused(PUBLISH, publish(bytes.fromhex("82f7")))  # undefined, then the array ends early
    assert (e.code, e.path) == ("INVALID_PAYLOAD", "")


def test_data_model_fault_before_an_earlier_array_fault():
    # weights: an untagged byte string (an array fault, step 7), then undefined in layer (step 6)
    data = cbor2.dumps({"weights": b"\x00", "state_version": 1, "layer": cbor2.undefined})
    e = refused(STATE, data)
    assert (e.code, e.path) == ("INVALID_PAYLOAD", "/layer"), e.message


def test_64_bit_fields_take_any_cbor_integer_and_range_is_the_schema_rule():
    base = {"layer": 0, "weights": cbor2.CBORTag(49344, pack_ndarray(NDArray.from_numpy(np.ones((1, 1), "<f4"))))}
    ok = decode_payload(STATE, "cbor", cbor2.dumps({**base, "state_version": 2 ** 64 - 1}))
    assert ok["state_version"] == 2 ** 64 - 1
    for bad in (-(2 ** 64), -1, 2 ** 64, "5"):  # -2^64 is what CBOR::XS misreads as 0
        e = refused(STATE, cbor2.dumps({**base, "state_version": bad}))
        expected_fault = ("INVALID_PAYLOAD", "/state_version") if bad == 2 ** 64 else ("SCHEMA_VIOLATION", "/state_version")
        assert (e.code, e.path) == expected_fault, (bad, e.message)  # 2^64 needs a bignum tag
        if e.code == "SCHEMA_VIOLATION":
            assert e.rule == "int64"


def test_limits_at_and_one_past():
    depth = proto.LIMITS["max_payload_depth"]
    # the payload map is level 1, so `payload` holds depth - 1 nested arrays at the limit
    at = publish(b"\x81" * (depth - 2) + b"\x80")
    assert decode_payload(PUBLISH, "cbor", at)
    e = refused(PUBLISH, publish(b"\x81" * (depth - 1) + b"\x80"))
    assert (e.code, e.rule) == ("INVALID_PAYLOAD", "max-depth")
    items = proto.LIMITS["max_payload_items"]
    # the map, the event_type text and the array are 3 values: the array holds items - 3 at the limit
    assert decode_payload(PUBLISH, "cbor", publish(b"\x9a" + (items - 3).to_bytes(4, "big") + b"\x00" * (items - 3)))
    e = refused(PUBLISH, publish(b"\x9a" + (items - 2).to_bytes(4, "big") + b"\x00" * (items - 2)))
    assert (e.code, e.rule) == ("INVALID_PAYLOAD", "max-items")


def _walk(data: bytes, pos: int = 0):
    """Yields (initial byte, position) of every item head: enough to audit definite lengths and tags."""
    initial = data[pos]
    major, info = initial >> 5, initial & 31
    yield initial, pos
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    arg = int.from_bytes(data[pos + 1:pos + 1 + size], "big") if size else info
    pos += 1 + size
    if major in (2, 3):
        return pos + arg
    if major in (4, 5):
        for _ in range(arg * (2 if major == 5 else 1)):
            pos = yield from _walk(data, pos)
        return pos
    if major == 6:
        return (yield from _walk(data, pos))
    return pos


def test_encoder_writes_definite_lengths_and_only_the_ndarray_tag():
    value = {"event_type": "e", "payload": {"a": [1, 2.5, -0.0, None, True, "x" * 40, 2 ** 70], "v": NDArray.from_numpy(np.arange(3, dtype="<f4"))}}
    data = encode_payload(PUBLISH, value, "cbor")
    heads = []
    end = yield_all(_walk(data), heads)
    assert end == len(data)
    assert all(h & 31 != 31 for h, _ in heads)  # ENC-9
    tags = [int.from_bytes(data[p + 1:p + 3], "big") for h, p in heads if h >> 5 == 6]
    assert tags == [49344]  # ENC-10: the ndarray, nothing else (2^70 is written as a float, not a bignum)
    back = decode_payload(PUBLISH, "cbor", data)["payload"]
    assert back["a"][:6] == [1, 2.5, -0.0, None, True, "x" * 40] and back["a"][6] == float(2 ** 70)
    assert back["v"].tolist() == [0.0, 1.0, 2.0]


def yield_all(gen, out):
    try:
        while True:
            out.append(next(gen))
    except StopIteration as stop:
        return stop.value


def test_encoder_refuses_a_non_finite_number():
    with pytest.raises(ValueError):
        encode_payload(PUBLISH, {"event_type": "e", "payload": [math.nan]}, "cbor")
