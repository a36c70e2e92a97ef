"""Every golden vector of fixtures/: frames (valid and invalid) and ndarray layouts."""
import pytest

from concord import FrameDecoder, ProtocolError, decode_message, message_info
from concord.framing import MAX_FRAME
from concord.ndarray import NDArray, pack, to_fixture, unpack
from concord.payload import payload_to_fixture
from conftest import load_vectors
from helpers import first_difference

VALID = load_vectors("frames/valid.json")
INVALID = load_vectors("frames/invalid.json")
ARRAYS = load_vectors("ndarray/arrays.json")


def bodies_of(hex_: str, max_frame: int = MAX_FRAME):
    return FrameDecoder(max_frame=max_frame).push(bytes.fromhex(hex_))


@pytest.mark.parametrize("v", VALID, ids=[v["id"] for v in VALID])
def test_valid_frame(v):
    bodies = bodies_of(v["hex"])
    assert len(bodies) == 1
    want = v["decoded"]
    if want["encoding"] == "cbor":
        with pytest.raises(ProtocolError) as e:
            decode_message(bodies[0])
        assert e.value.code == "UNSUPPORTED_ENCODING"
        assert e.value.frame_id == want["header"]["id"]
        assert not e.value.closes
        return
    m = decode_message(bodies[0])
    assert (m.type, m.name, m.encoding) == (want["type"], want["name"], want["encoding"])
    assert first_difference(m.header, want["header"]) is None
    got = payload_to_fixture(message_info(m.type), m.payload)
    assert first_difference(got, want["payload"]) is None, (got, want["payload"])


def _is_cbor(hex_: str) -> bool:
    b = bytes.fromhex(hex_)
    return len(b) > 5 and (b[5] & 3) == 1


JSON_INVALID = [v for v in INVALID if not _is_cbor(v["hex"])]


@pytest.mark.parametrize("v", JSON_INVALID, ids=[v["id"] for v in JSON_INVALID])
def test_invalid_frame(v):
    with pytest.raises(ProtocolError) as e:
        for body in bodies_of(v["hex"], v.get("max_frame", MAX_FRAME)):
            decode_message(body)
    err = e.value
    assert err.code == v["error"]
    assert err.closes == v["closes"]
    if "path" in v:
        assert err.path == v["path"]
    if "rule" in v:
        assert err.rule == v["rule"]
    if v["error"] == "FRAME_TOO_LARGE":
        assert err.details["limit"] == v.get("max_frame", MAX_FRAME)


def test_invalid_vectors_cover_json():
    # the peer declares JSON only: the CBOR vectors are out of its scope, and they stay a minority
    assert len(JSON_INVALID) >= len(INVALID) * 3 // 4


@pytest.mark.parametrize("v", ARRAYS, ids=[v["id"] for v in ARRAYS])
def test_ndarray_vector(v):
    data = bytes.fromhex(v["hex"])
    if v["result"] == "invalid":
        with pytest.raises(ProtocolError) as e:
            unpack(data, "/x")
        assert e.value.code == v["error"] == "INVALID_ARRAY"
        assert e.value.path == "/x"
        assert e.value.rule == v["rule"]  # the first rule broken in the check table's order (ARR-7)
        return
    a = unpack(data)
    got = to_fixture(a)["$ndarray"]
    want = v["decoded"]
    assert got["dtype"] == want["dtype"]
    assert got["shape"] == want["shape"]
    assert first_difference(got["data"], want["data"]) is None, (got["data"][:8], want["data"][:8])
    assert got["meta"] == want.get("meta", {})
    # re-encoding gives the same bytes (compact meta JSON)
    again = unpack(pack(a))
    assert again == a
    if not a.meta:
        assert pack(a) == data
    assert isinstance(a, NDArray)
