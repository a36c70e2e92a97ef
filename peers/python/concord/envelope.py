"""The body of a frame (section 3): u8 type | u8 flags | u16 hlen | header | payload, checked as the
reference codec does: prefix faults (MALFORMED_FRAME, closing), then the header (INVALID_HEADER
with path /header or /header/KEY, not closing)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ._json import JsonError, dumps_bytes, parse_bytes, utf8_len
from ._spec import proto
from .errors import ProtocolError

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

BODY_PREFIX_BYTES = proto.BODY_PREFIX_BYTES
ENCODING_MASK = proto.ENCODING_MASK
RESERVED_FLAGS_MASK = proto.RESERVED_FLAGS_MASK
ENCODINGS = proto.ENCODINGS
MAX_HEADER = proto.MAX_HEADER
MAX_ID_BYTES = proto.MAX_ID_BYTES
MAX_NAME_BYTES = proto.MAX_NAME_BYTES

_UINT64 = re.compile(r"0|[1-9][0-9]{0,19}")
_CONTROL = re.compile("[\u0000-\u001f\u007f]")


@dataclass
class Envelope:
    type: int
    flags: int
    #: Raw encoding bits: 0 json, 1 cbor, 2 and 3 reserved.
    encoding_bits: int
    header: Dict[str, Any]
    payload: bytes


def _bad(key: str, message: str, **kw: Any) -> None:
    raise ProtocolError(E.INVALID_HEADER, f"header {key}: {message}", path="/header" + (f"/{key}" if key else ""), **kw)


def _check_string(h: Dict[str, Any], key: str, limit: int, name: bool) -> None:
    if key not in h:
        return
    v = h[key]
    if not isinstance(v, str):
        _bad(key, "must be a string")
    n = utf8_len(v)
    if n < 1 or n > limit:
        _bad(key, f"must be 1 to {limit} bytes of UTF-8, has {n}")
    if name and _CONTROL.search(v):
        _bad(key, "must not contain control characters")


def decode_header(data: bytes, max_header: int = MAX_HEADER) -> Dict[str, Any]:
    """Parses and checks header bytes; `max_header` is the receiver's limit."""
    if len(data) > max_header:
        raise ProtocolError(E.INVALID_HEADER, f"header of {len(data)} bytes exceeds max_header {max_header}",
                            path="/header", limit=max_header)
    if len(data) == 0:
        _bad("", "is empty (the id is required)")
    try:
        h = parse_bytes(data, strict=False)
    except JsonError:
        _bad("", "is not UTF-8 JSON")
    if not isinstance(h, dict):
        _bad("", "is not a JSON object")
    if "id" not in h:
        _bad("id", "is required")
    _check_string(h, "id", MAX_ID_BYTES, False)
    # From here the id is readable: a fault of another key is answered with `re` set to it (ERR-3).
    try:
        _check_string(h, "re", MAX_ID_BYTES, False)
        _check_string(h, "src", MAX_NAME_BYTES, True)
        _check_string(h, "dst", MAX_NAME_BYTES, True)
        if "ts" in h:
            ts = h["ts"]
            if not isinstance(ts, str) or not _UINT64.fullmatch(ts) or int(ts) > 2 ** 64 - 1:
                _bad("ts", "must be a decimal string of a u64")
    except ProtocolError as e:
        e.frame_id = h["id"]
        raise
    return h


def encode_header(header: Dict[str, Any]) -> bytes:
    return dumps_bytes(header)


def decode_envelope(body: bytes, max_header: int = MAX_HEADER) -> Envelope:
    """Checks the prefix (closing faults) and the header (non-closing faults), in the spec's order."""
    if len(body) < BODY_PREFIX_BYTES:
        raise ProtocolError(E.MALFORMED_FRAME, f"body of {len(body)} bytes is shorter than its 4-byte prefix", rule="short-body")
    type_, flags = body[0], body[1]
    if flags & RESERVED_FLAGS_MASK:
        raise ProtocolError(E.MALFORMED_FRAME, f"reserved flag bits set (flags 0x{flags:02x})", rule="reserved-flags")
    hlen = (body[2] << 8) | body[3]
    if hlen > len(body) - BODY_PREFIX_BYTES:
        raise ProtocolError(E.MALFORMED_FRAME, f"header length {hlen} overruns the {len(body) - BODY_PREFIX_BYTES} bytes after the prefix",
                            rule="hlen-overrun")
    header = decode_header(body[BODY_PREFIX_BYTES:BODY_PREFIX_BYTES + hlen], max_header)
    return Envelope(type_, flags, flags & ENCODING_MASK, header, bytes(body[BODY_PREFIX_BYTES + hlen:]))


def encode_envelope(type_: int, encoding: str, header: Any, payload: bytes) -> bytes:
    """Assembles a body from its parts (`header` a dict or already-encoded bytes)."""
    hb = header if isinstance(header, (bytes, bytearray)) else encode_header(header)
    if len(hb) > 0xFFFF:
        raise ValueError("encode_envelope: header exceeds 65535 bytes")
    return bytes([type_, ENCODINGS.index(encoding), len(hb) >> 8, len(hb) & 0xFF]) + bytes(hb) + bytes(payload)


def optional_str(h: Dict[str, Any], key: str) -> Optional[str]:
    v = h.get(key)
    return v if isinstance(v, str) else None
