"""Every golden vector of fixtures/: frames (valid and invalid) and ndarray layouts."""
import pytest

from concord import FrameDecoder, ProtocolError, decode_message, encode_message, message_info
from concord.framing import MAX_FRAME
from concord.message import SUPPORTED_ENCODINGS
from concord.ndarray import NDArray, pack, to_fixture, unpack
from concord.payload import payload_to_fixture
from conftest import load_vectors
from helpers import first_difference

BOTH = ("json", "cbor")
VALID = load_vectors("frames/valid.json")
INVALID = load_vectors("frames/invalid.json")
ARRAYS = load_vectors("ndarray/arrays.json")


def bodies_of(hex_: str, max_frame: int = MAX_FRAME):
    return FrameDecoder(max_frame=max_frame).push(bytes.fromhex(hex_))


def test_cbor_is_implemented():
    # cbor2 comes from Debian's python3-cbor2: run the tests with the Python that has it (/usr/bin/python3)
    assert SUPPORTED_ENCODINGS == BOTH


@pytest.mark.parametrize("v", VALID, ids=[v["id"] for v in VALID])
def test_valid_frame(v):
    bodies = bodies_of(v["hex"])
    assert len(bodies) == 1
    want = v["decoded"]
    if want["encoding"] == "cbor":
        # where INIT_ACK chose JSON, a CBOR frame is refused and the connection stays open (ENC-3)
        with pytest.raises(ProtocolError) as e:
            decode_message(bodies[0], encodings=("json",))
        assert e.value.code == "UNSUPPORTED_ENCODING"
        assert e.value.frame_id == want["header"]["id"]
        assert not e.value.closes
    m = decode_message(bodies[0], encodings=BOTH)
    assert (m.type, m.name, m.encoding) == (want["type"], want["name"], want["encoding"])
    assert first_difference(m.header, want["header"]) is None
    info = message_info(m.type)
    got = payload_to_fixture(info, m.payload)
    assert first_difference(got, want["payload"]) is None, (got, want["payload"])
    # re-encoded in the frame's encoding from the decoded value, it decodes to the same value
    again = decode_message(encode_message(m.type, m.header, m.payload, m.encoding), encodings=BOTH)
    assert first_difference(payload_to_fixture(info, again.payload), want["payload"]) is None


@pytest.mark.parametrize("v", INVALID, ids=[v["id"] for v in INVALID])
def test_invalid_frame(v):
    with pytest.raises(ProtocolError) as e:
        for body in bodies_of(v["hex"], v.get("max_frame", MAX_FRAME)):
            decode_message(body, encodings=BOTH)
    err = e.value
    assert err.code == v["error"]
    assert err.closes == v["closes"]
    if "path" in v:
        assert err.path == v["path"]
    if "rule" in v:
        assert err.rule == v["rule"]
    if v["error"] == "FRAME_TOO_LARGE":
        assert err.details["limit"] == v.get("max_frame", MAX_FRAME)


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
