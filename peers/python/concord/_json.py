"""JSON text <-> values with the semantics of the reference codec (JavaScript's JSON.parse):
no NaN/Infinity literals, integers beyond 2^53 become floats, and (strict mode) numbers beyond
binary64 are refused."""
from __future__ import annotations

import json
import math
from typing import Any

_SAFE = 2 ** 53


class JsonError(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not JSON")


def _float_strict(text: str) -> float:
    v = float(text)
    if math.isinf(v):
        raise JsonError(f"number {text[:40]} is beyond the binary64 range")
    return v


def _int_strict(text: str) -> Any:
    digits = len(text) - (text[0] == "-")
    if digits <= 15:
        return int(text)
    v = float(text)
    if math.isinf(v):
        raise JsonError(f"number {text[:40]}... is beyond the binary64 range")
    return int(text) if abs(v) <= _SAFE else v


def _float_lenient(text: str) -> float:
    return float(text)


def _int_lenient(text: str) -> Any:
    digits = len(text) - (text[0] == "-")
    if digits <= 15:
        return int(text)
    v = float(text)
    return int(text) if abs(v) <= _SAFE else v


_strict = json.JSONDecoder(parse_float=_float_strict, parse_int=_int_strict, parse_constant=_no_constant)
_lenient = json.JSONDecoder(parse_float=_float_lenient, parse_int=_int_lenient, parse_constant=_no_constant)


def parse_text(text: str, strict: bool = True) -> Any:
    """Parses exactly one JSON value surrounded by JSON whitespace only. Raises JsonError."""
    try:
        return (_strict if strict else _lenient).decode(text)
    except JsonError:
        raise
    except (ValueError, RecursionError, OverflowError) as e:
        raise JsonError(str(e)) from None


def parse_bytes(data: bytes, strict: bool = True) -> Any:
    """Strict UTF-8 (a byte order mark is kept and so refused by the parser), then parse_text."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonError(f"not UTF-8 ({e.reason} at byte {e.start})") from None
    return parse_text(text, strict)


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; strings with lone surrogates fall back to \\u escapes."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def utf8_len(s: str) -> int:
    """Byte length in UTF-8 (a lone surrogate counts 3 bytes, as U+FFFD would)."""
    return len(s.encode("utf-8", "surrogatepass"))
