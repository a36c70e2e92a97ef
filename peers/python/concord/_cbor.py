"""CBOR payloads (sections 4 and 8) as strict as the reference codec. cbor2 (Debian python3-cbor2)
reads and writes the items; before it reads one, `check` walks the raw bytes, because cbor2 turns
tags into values that cannot be told apart afterwards (a bignum becomes an int, tag 55799
disappears, tag 1 becomes a datetime) and does not refuse trailing bytes. The walk refuses, in the
reference codec's order:

1. a payload deeper than max_payload_depth or with more than max_payload_items values (LIM-15,
   LIM-16), as soon as the walk gets there, like the reference's scan of the raw bytes;
2. anything not well formed (ENC-8): truncation, reserved additional information, a misplaced
   break, a bad indefinite-length chunk, a text string that is not UTF-8, bytes after the item:
   INVALID_PAYLOAD with path "";
3. the first data-model fault in document order (ENC-8 map keys, ENC-11), with the faulty value's
   path: a map key that is not text (path of the map), a tag other than the ndarray tag where an
   ndarray may be, a byte string outside it, undefined, a simple value other than false, true and
   null, a non-finite float, an integer with no exact binary64 value outside a 64-bit field.

Values in an ndarray field are left to the array rules (rule `wrapper`), as in the reference."""
from __future__ import annotations

import math
import struct
from typing import Any, List, Optional, Tuple

from ._spec import proto
from .errors import ProtocolError, pointer

try:
    import cbor2
except ImportError:  # a Python without Debian's python3-cbor2: the peer declares JSON only
    cbor2 = None

E = proto.ErrorCode

#: Whether this Python can read and write CBOR payloads.
AVAILABLE = cbor2 is not None
#: The type cbor2 reads a tag as (an ndarray in an any-typed field is one).
TAG_TYPE = cbor2.CBORTag if cbor2 is not None else dict

NDARRAY_TAG = proto.NDARRAY_CBOR_TAG
MAX_DEPTH = proto.LIMITS["max_payload_depth"]
MAX_ITEMS = proto.LIMITS["max_payload_items"]
_ARG_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}
_SIMPLE_NAMES = {20: "false", 21: "true", 22: "null", 23: "undefined"}
_DOUBLE_EXACT = 2 ** 53
#: The CBOR integer range; a plain int outside it would be written as a bignum tag (ENC-10).
_CBOR_INT_MIN, _CBOR_INT_MAX = -(2 ** 64), 2 ** 64 - 1


class _Malformed(Exception):
    pass


def _malformed(message: str) -> ProtocolError:
    return ProtocolError(E.INVALID_PAYLOAD, f"payload is not one well-formed CBOR item ({message})", path="")


def _exact_double(n: int) -> bool:
    return abs(n) <= _DOUBLE_EXACT or float(n) == n


def _float_of(width: int, raw: bytes) -> float:
    return struct.unpack({2: ">e", 4: ">f", 8: ">d"}[width], raw)[0]


class _Walk:
    """One pass over the bytes; `fault` keeps the first data-model fault, `odd_array` the first
    ndarray field whose value is not the tag over a byte string (step 7 reports it)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.items = 0
        self.fault: Optional[Tuple[str, str]] = None
        self.odd_array: Optional[str] = None

    def note(self, path: str, message: str) -> None:
        if self.fault is None:
            self.fault = (path, message)

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise _Malformed(f"truncated at byte {self.pos}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def head(self) -> Tuple[int, int, Optional[int], bytes]:
        """(major type, additional information, argument or None when indefinite, raw argument bytes)."""
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info, b""
        if info in _ARG_BYTES:
            raw = self.take(_ARG_BYTES[info])
            return major, info, int.from_bytes(raw, "big"), raw
        if info == 31 and major in (2, 3, 4, 5, 7):
            return major, info, None, b""
        raise _Malformed(f"additional information {info} with major type {major} at byte {self.pos - 1}")

    def count(self, key: bool) -> None:
        if not key:
            self.items += 1
            if self.items > MAX_ITEMS:
                raise ProtocolError(E.INVALID_PAYLOAD, f"payload holds more than max_payload_items ({MAX_ITEMS}) values",
                                    path="", rule="max-items", limit=MAX_ITEMS)

    def string(self, major: int, arg: Optional[int]) -> bytes:
        """The bytes of a byte or text string, indefinite-length chunks joined."""
        if arg is not None:
            return self.take(arg)
        parts: List[bytes] = []
        while True:
            m, info, n, _ = self.head()
            if m == 7 and info == 31:
                return b"".join(parts)
            if m != major or n is None:
                raise _Malformed(f"an indefinite-length string holds a chunk of major type {m} at byte {self.pos}")
            self.items += 1  # chunks count as values, as in the reference's scan
            parts.append(self.take(n))

    def item(self, plan: Any, path: str, level: int, checked: bool, key: bool = False) -> Tuple[int, Any]:
        """Walks one item; returns (major type, text of a text string or None). `checked` is False
        inside values the data model does not apply to (ndarray fields, map keys)."""
        start = self.pos
        major, info, arg, raw = self.head()
        if major == 7 and info == 31:
            raise _Malformed(f"a break outside an indefinite-length item at byte {start}")
        self.count(key)
        kind = plan.kind if plan is not None else "plain"
        if kind == "ndarray" and checked:
            checked = False
            if not (major == 6 and arg == NDARRAY_TAG and self.data[self.pos:self.pos + 1] and self.data[self.pos] >> 5 == 2):
                self.odd_array = self.odd_array or path
        if major in (0, 1):
            if checked and kind != "int64" and not _exact_double(arg if major == 0 else -1 - arg):
                self.note(path, f"integer {arg if major == 0 else -1 - arg} has no exact double value outside a 64-bit field")
            return major, None
        if major in (2, 3):
            content = self.string(major, arg)
            if major == 2:
                if checked:
                    self.note(path, "a byte string is allowed only in an ndarray field")
                return major, None
            try:
                return major, content.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _Malformed(f"a text string is not UTF-8 ({e.reason})") from None
        if major == 4:
            level += 1
            self._level(level)
            inner = plan.items if kind == "array" else plan if kind == "any" else None
            i = 0
            data = self.data
            while arg is None or i < arg:
                if arg is None and self._at_break():
                    break
                b = data[self.pos] if self.pos < len(data) else 0xFF
                if b < 0x38 and (b < 0x18 or b >= 0x20) or 0xF4 <= b <= 0xF6:
                    # a small integer, false, true or null: one byte, nothing to check (the common case of long arrays)
                    self.pos += 1
                    self.count(False)
                else:
                    self.item(inner, pointer(path, i), level, checked)
                i += 1
            return major, None
        if major == 5:
            level += 1
            self._level(level)
            i = 0
            while arg is None or i < arg:
                if arg is None and self._at_break():
                    break
                key_major, text = self.item(None, path, level, False, key=True)
                if checked and key_major != 3:
                    self.note(path, "a map key is not a text string")
                sub = None
                if kind == "object" and text is not None:
                    sub = plan.props.get(text) or plan.rest
                elif kind == "any":
                    sub = plan
                self.item(sub, pointer(path, text if text is not None else i), level, checked)
                i += 1
            return major, None
        if major == 6:
            level += 1
            self._level(level)
            inside_checked = checked
            if checked:
                if arg == NDARRAY_TAG and kind == "any":
                    inside_checked = False  # an ndarray (ARR-8): its wrapper and layout are step 7
                else:
                    self.note(path, f"tag {arg} is not allowed here")
                    inside_checked = False
            self.item(None, path, level, inside_checked)
            return major, None
        # major 7: simple values and floats
        if info < 24 or info == 24:
            if info == 24 and arg < 32:
                raise _Malformed(f"simple value {arg} in two bytes at byte {start}")
            if checked and arg not in (20, 21, 22):
                self.note(path, f"{_SIMPLE_NAMES.get(arg, f'simple value {arg}')} is not in the payload data model")
            return major, None
        value = _float_of(len(raw), raw)
        if checked and not math.isfinite(value):
            self.note(path, f"{value} is not a JSON number")
        return major, None

    def _at_break(self) -> bool:
        if self.pos >= len(self.data):
            raise _Malformed("an indefinite-length item is not closed")
        if self.data[self.pos] == 0xFF:
            self.pos += 1
            return True
        return False

    @staticmethod
    def _level(level: int) -> None:
        if level > MAX_DEPTH:
            raise ProtocolError(E.INVALID_PAYLOAD, f"payload nests deeper than max_payload_depth ({MAX_DEPTH})",
                                path="", rule="max-depth", limit=MAX_DEPTH)


def check(plan: Any, data: bytes) -> Optional[str]:
    """Checks payload bytes (steps 6 and the limits); raises the first fault as a ProtocolError.
    Returns the path of the first ndarray field whose value is not the ndarray tag over a byte
    string (or None), for `loads` to name if cbor2 cannot read that value."""
    walk = _Walk(bytes(data))
    try:
        walk.item(plan, "", 0, True)
        if walk.pos != len(walk.data):
            raise _Malformed(f"{len(walk.data) - walk.pos} bytes after the item")
    except _Malformed as e:
        raise _malformed(str(e)) from None
    if walk.fault is not None:
        path, message = walk.fault
        raise ProtocolError(E.INVALID_PAYLOAD, f"{path or '/'}: {message}", path=path)
    return walk.odd_array


def loads(data: bytes, odd_array: Optional[str]) -> Any:
    """Reads a checked payload with cbor2. Only a value in an ndarray field can still trouble cbor2
    (a tag it interprets, holding the wrong type): that is the field's fault (rule wrapper)."""
    try:
        return cbor2.loads(data)
    except Exception as e:  # noqa: BLE001 - cbor2 raises several types for one meaning
        if odd_array is not None:
            raise ProtocolError(E.INVALID_ARRAY, f"{odd_array or '/'}: must be a byte string under tag {NDARRAY_TAG}",
                                path=odd_array, rule="wrapper") from None
        raise _malformed(str(e)) from None


def _portable(value: Any) -> Any:
    """Plain values cbor2 would write outside the payload data model: a non-finite float is refused
    and an int beyond the CBOR integer range becomes a float (cbor2 would write a bignum tag)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cbor: {value} is not a JSON number")
        return value
    if isinstance(value, int):
        return value if _CBOR_INT_MIN <= value <= _CBOR_INT_MAX else float(value)
    if isinstance(value, list):
        return [_portable(v) for v in value]
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    return value  # CBORTag of an ndarray (bytes inside)


def dumps(value: Any) -> bytes:
    """One definite-length CBOR item with text keys and no tag but the ndarray tag (ENC-9, ENC-10)."""
    return cbor2.dumps(_portable(value))


def tag(payload: bytes) -> Any:
    """The wire form of an ndarray: its layout bytes under the ndarray tag (ARR-5)."""
    return cbor2.CBORTag(NDARRAY_TAG, payload)


def ndarray_bytes(node: Any) -> Optional[bytes]:
    """The layout bytes of an ndarray's wire form, or None when `node` is not one."""
    if cbor2 is not None and isinstance(node, cbor2.CBORTag) and node.tag == NDARRAY_TAG and isinstance(node.value, bytes):
        return node.value
    return None


def is_ndarray_tag(node: Any) -> bool:
    return cbor2 is not None and isinstance(node, cbor2.CBORTag) and node.tag == NDARRAY_TAG
