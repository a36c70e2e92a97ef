"""Payloads (sections 4, 5, 8), JSON and CBOR: strict parsing, the wire forms of ndarray and 64-bit integer
fields, and a validator for the subset of JSON Schema the catalog uses plus its keywords `ndarray`,
`int64` and `float32`. Faults come in the reference codec's precedence: INVALID_PAYLOAD (parse),
INVALID_ARRAY (ndarray fields, while converting from the wire form), SCHEMA_VIOLATION (schema).
The validator reports the first fault in the order ajv (the reference's validator) finds it."""
from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _cbor
from . import ndarray as nd
from ._json import JsonError, dumps_bytes, parse_bytes
from ._spec import SCHEMA_DEFS, CatalogEntry, proto
from .errors import ProtocolError, pointer
from .ndarray import NDArray

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

WRAPPER = proto.NDARRAY_JSON_WRAPPER
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_UINT64 = re.compile(r"0|[1-9][0-9]{0,19}")
_INT64 = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
U64_MAX = 2 ** 64 - 1
I64_MIN, I64_MAX = -(2 ** 63), 2 ** 63 - 1


# ---- schema helpers ------------------------------------------------------------------------------

def resolve(schema: Any) -> Any:
    """Follows `$ref: #/$defs/NAME` (the catalog puts no other keyword beside a $ref)."""
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/") or ref[8:] not in SCHEMA_DEFS:
            raise KeyError(f"unresolved $ref {ref}")
        schema = SCHEMA_DEFS[ref[8:]]
        seen += 1
        if seen > 64:
            raise RecursionError(f"$ref cycle at {ref}")
    return schema


# ---- plans: where the special fields are ---------------------------------------------------------

@dataclass
class Plan:
    kind: str  # 'ndarray' | 'int64' | 'float32' | 'object' | 'array' | 'any' | 'plain'
    rule: Optional[Dict[str, Any]] = None
    signed: bool = False
    props: Dict[str, "Plan"] = field(default_factory=dict)
    rest: Optional["Plan"] = None
    items: Optional["Plan"] = None


PLAIN = Plan("plain")
# A field whose schema allows any value: a `$ndarray` wrapper in it is an ndarray (ARR-8).
ANY = Plan("any")
_ANNOTATIONS = {"description", "title", "examples", "$comment", "default", "since"}


def build_plan(schema: Any) -> Plan:
    if not schema:
        return PLAIN
    s = resolve(schema)
    if isinstance(s, dict) and all(k in _ANNOTATIONS for k in s):
        return ANY
    if s.get("ndarray"):
        return Plan("ndarray", rule=s["ndarray"])
    if s.get("int64"):
        return Plan("int64", signed=s["int64"] == "int64")
    if s.get("float32") is True:
        return Plan("float32")
    props = s.get("properties")
    additional = s.get("additionalProperties")
    if props or isinstance(additional, dict):
        m = {k: p for k, p in ((k, build_plan(v)) for k, v in (props or {}).items()) if p.kind != "plain"}
        rest = build_plan(additional) if isinstance(additional, dict) else PLAIN
        if not m and rest.kind == "plain":
            return PLAIN
        return Plan("object", props=m, rest=None if rest.kind == "plain" else rest)
    if isinstance(s.get("items"), dict):
        items = build_plan(s["items"])
        return PLAIN if items.kind == "plain" else Plan("array", items=items)
    return PLAIN


_plans: Dict[int, Plan] = {}


def plan_of(m: CatalogEntry) -> Plan:
    p = _plans.get(m.code)
    if p is None:
        p = _plans[m.code] = build_plan(m.payload)
    return p


# ---- wire form -> application model -------------------------------------------------------------

def _array_fault(path: str, rule: str, message: str) -> None:
    raise ProtocolError(E.INVALID_ARRAY, f"{path or '/'}: {message}", path=path, rule=rule)


def check_ndarray_rule(array: NDArray, rule: Dict[str, Any], path: str) -> None:
    """The field's rule: dtype names (field-dtype), ndim, shape, element count (field-shape)."""
    if array.dtype_name not in rule.get("dtypes", []):
        _array_fault(path, "field-dtype", f"dtype {array.dtype} is not one of {', '.join(rule.get('dtypes', []))}")
    if "ndim" in rule and array.ndim != rule["ndim"]:
        _array_fault(path, "field-shape", f"has {array.ndim} dimensions, the field needs {rule['ndim']}")
    for i, want in enumerate(rule.get("shape") or []):
        if want is not None and (i >= array.ndim or array.shape[i] != want):
            _array_fault(path, "field-shape", f"dimension {i} is not {want}")
    if "minSize" in rule and array.size < rule["minSize"]:
        _array_fault(path, "field-shape", f"has {array.size} elements, the field needs at least {rule['minSize']}")
    if "maxSize" in rule and array.size > rule["maxSize"]:
        _array_fault(path, "field-shape", f"has {array.size} elements, the field allows at most {rule['maxSize']}")


def _decode_ndarray(node: Any, form: str, path: str, rule: Optional[Dict[str, Any]]) -> NDArray:
    """`rule` is None in a field that allows any value: only the layout rules apply there (ARR-8)."""
    if form == "fixture":
        try:
            array = nd.from_fixture(node)
        except (ValueError, KeyError, TypeError) as e:
            _array_fault(path, "wrapper", f"fixture ndarray is not {{\"$ndarray\": {{dtype, shape, data, meta}}}} ({e})")
    elif form == "cbor":
        raw = _cbor.ndarray_bytes(node)
        if raw is None:
            _array_fault(path, "wrapper", f"must be a byte string under tag {proto.NDARRAY_CBOR_TAG}")
        array = nd.unpack(raw, path)
    else:
        if isinstance(node, NDArray):  # already decoded (application values passed through)
            array = node
        else:
            if not isinstance(node, dict) or len(node) != 1 or not isinstance(node.get(WRAPPER), str):
                _array_fault(path, "wrapper", f'must be an object {{"{WRAPPER}": "<base64>"}}')
            text = node[WRAPPER]
            if not _BASE64.fullmatch(text):
                _array_fault(path, "wrapper", "is not canonical base64 (RFC 4648 section 4, padded)")
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                _array_fault(path, "wrapper", "is not canonical base64")
            if base64.b64encode(raw).decode("ascii") != text:
                _array_fault(path, "wrapper", "is not canonical base64 (non-zero pad bits)")
            array = nd.unpack(raw, path)
    if rule is not None:
        check_ndarray_rule(array, rule, path)
    return array


def _from_wire_any(node: Any, form: str, path: str) -> Any:
    """An any-typed field: every object whose only key is `$ndarray` (in CBOR, every ndarray tag) is
    decoded and checked (ARR-8)."""
    if _cbor.is_ndarray_tag(node) if form == "cbor" else isinstance(node, dict) and len(node) == 1 and WRAPPER in node:
        return _decode_ndarray(node, form, path, None)
    if isinstance(node, list):
        return [_from_wire_any(v, form, pointer(path, i)) if isinstance(v, _NESTED) else v for i, v in enumerate(node)]
    if isinstance(node, dict):
        return {k: _from_wire_any(v, form, pointer(path, k)) if isinstance(v, _NESTED) else v for k, v in node.items()}
    return node


#: Values an any-typed field may hold an ndarray in (a scalar is returned as it is, without a path).
_NESTED = (list, dict, _cbor.TAG_TYPE)


def _ndarray_to_wire(value: NDArray, form: str) -> Any:
    if form == "fixture":
        return nd.to_fixture(value)
    if form == "cbor":
        return _cbor.tag(nd.pack(value))
    return {WRAPPER: base64.b64encode(nd.pack(value)).decode("ascii")}


def _to_wire_any(value: Any, form: str) -> Any:
    if isinstance(value, NDArray):
        return _ndarray_to_wire(value, form)
    if isinstance(value, list):
        return [_to_wire_any(v, form) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire_any(v, form) for k, v in value.items()}
    return value


class _NotInt64:
    """A 64-bit integer field not in its wire form: only the schema's int64 keyword sees it (and refuses it)."""

    __slots__ = ("node",)

    def __init__(self, node: Any) -> None:
        self.node = node


def _decode_int64(node: Any, signed: bool, form: str) -> Any:
    v = None
    if form == "cbor":
        # A CBOR integer; a float with an integral value is not told apart (cbor-x reads both alike).
        if isinstance(node, int) and not isinstance(node, bool):
            v = node
        elif isinstance(node, float) and node.is_integer() and abs(node) < 2 ** 53:
            v = int(node)
    elif isinstance(node, str) and (_INT64 if signed else _UINT64).fullmatch(node) and node != "-0":
        v = int(node)
    if v is not None and ((I64_MIN <= v <= I64_MAX) if signed else (0 <= v <= U64_MAX)):
        return v
    return _NotInt64(node)  # the schema's int64 keyword reports it


def from_wire(plan: Plan, node: Any, form: str = "json", path: str = "") -> Any:
    """Wire form ('json', 'cbor' or 'fixture') to application model; INVALID_ARRAY with the field's path."""
    k = plan.kind
    if k == "ndarray":
        return _decode_ndarray(node, form, path, plan.rule or {})
    if k == "int64":
        return _decode_int64(node, plan.signed, form)
    if k == "any":
        return _from_wire_any(node, form, path)
    if k == "array":
        if not isinstance(node, list):
            return node
        return [from_wire(plan.items, v, form, pointer(path, i)) for i, v in enumerate(node)]
    if k == "object":
        if not isinstance(node, dict):
            return node
        out = {}
        for key, v in node.items():
            sub = plan.props.get(key) or plan.rest
            out[key] = from_wire(sub, v, form, pointer(path, key)) if sub else v
        return out
    return node


# ---- application model -> wire form -------------------------------------------------------------

def _plain(value: Any) -> Any:
    """numpy scalars and tuples to JSON values (application convenience)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def normalize(plan: Plan, value: Any) -> Any:
    """Application convenience before validation: numpy arrays in ndarray fields become NDArrays,
    numpy scalars become Python numbers."""
    k = plan.kind
    if k == "ndarray":
        return NDArray.from_numpy(value) if isinstance(value, np.ndarray) else value
    if k == "array" and isinstance(value, (list, tuple)):
        return [normalize(plan.items, v) for v in value]
    if k == "object" and isinstance(value, dict):
        return {key: normalize(plan.props.get(key) or plan.rest or PLAIN, v) for key, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return _plain(value)


def to_wire(plan: Plan, value: Any, form: str = "json") -> Any:
    """Application model to wire form ('json', 'cbor' or 'fixture'); the value must be valid."""
    k = plan.kind
    if k == "ndarray":
        return _ndarray_to_wire(value, form)
    if k == "int64":
        return int(value) if form == "cbor" else str(int(value))
    if k == "any":
        return _to_wire_any(value, form)
    if k == "float32":
        # ENC-15: the binary64 value of the binary32 the sender computed.
        if form in ("json", "cbor") and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(np.float32(value)) if abs(value) <= 3.4028234663852886e38 else value
        return value
    if k == "array":
        return [to_wire(plan.items, v, form) for v in value] if isinstance(value, list) else value
    if k == "object":
        if not isinstance(value, dict):
            return value
        out = {}
        for key, v in value.items():
            sub = plan.props.get(key) or plan.rest
            out[key] = to_wire(sub, v, form) if sub else v
        return out
    return value


# ---- the validator ------------------------------------------------------------------------------

class _Invalid(Exception):
    def __init__(self, keyword: str, path: str, message: str, rule: Optional[str] = None) -> None:
        super().__init__(message)
        self.keyword, self.path, self.message, self.rule = keyword, path, message, rule


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _type_ok(t: str, x: Any) -> bool:
    if t == "string":
        return isinstance(x, str)
    if t == "number":
        return _is_number(x) and math.isfinite(x)
    if t == "integer":
        if not _is_number(x):
            return False
        return math.isfinite(x) and x.is_integer() if isinstance(x, float) else True
    if t == "boolean":
        return isinstance(x, bool)
    if t == "null":
        return x is None
    if t == "array":
        return isinstance(x, list)
    if t == "object":
        return isinstance(x, (dict, NDArray))
    return False


def deep_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: bools are not numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


_GROUPS = {
    "number": ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"),
    "string": ("maxLength", "minLength", "pattern", "maxBytes"),
    "array": ("maxItems", "minItems", "uniqueItems", "items", "contains"),
    "object": ("maxProperties", "minProperties", "required", "propertyNames", "additionalProperties", "properties"),
}
_patterns: Dict[str, "re.Pattern[str]"] = {}


def _regex(p: str) -> "re.Pattern[str]":
    r = _patterns.get(p)
    if r is None:
        # ECMAScript's `$` (no m flag) matches only at the very end; Python's also before a final \n.
        src = p[:-1] + r"\Z" if p.endswith("$") and not p.endswith("\\$") else p
        r = _patterns[p] = re.compile(src)
    return r


def _validate(s: Any, x: Any, path: str) -> None:
    if s is True or not isinstance(s, dict):
        return
    if "$ref" in s:
        _validate(resolve(s), x, path)
        return
    types = s.get("type")
    tlist = [types] if isinstance(types, str) else list(types or [])
    deferred = (len(tlist) == 1 and tlist[0] in _GROUPS and any(kw in s for kw in _GROUPS[tlist[0]]))
    if tlist and not deferred and not any(_type_ok(t, x) for t in tlist):
        raise _Invalid("type", path, f"must be {','.join(tlist)}")
    # keywords of no type, in ajv's order
    if "const" in s and not deep_equal(x, s["const"]):
        raise _Invalid("const", path, "must be equal to constant")
    if "enum" in s and not any(deep_equal(x, e) for e in s["enum"]):
        raise _Invalid("enum", path, "must be equal to one of the allowed values")
    if "ndarray" in s:
        if not isinstance(x, NDArray):
            raise _Invalid("ndarray", path, "must be an ndarray", rule="wrapper")
        try:
            check_ndarray_rule(x, s["ndarray"], path)
        except ProtocolError as e:
            raise _Invalid("ndarray", path, e.message, rule=e.rule) from None
    if "int64" in s:
        signed = s["int64"] == "int64"
        ok = isinstance(x, int) and not isinstance(x, bool) and ((I64_MIN <= x <= I64_MAX) if signed else (0 <= x <= U64_MAX))
        if not ok:
            raise _Invalid("int64", path, f"must be a {s['int64']} (a decimal string in JSON)")
    for group, keywords in _GROUPS.items():
        if not any(kw in s for kw in keywords):
            continue
        if _type_ok(group, x) and not (group == "object" and isinstance(x, NDArray)):
            _GROUP_CHECKS[group](s, x, path)
        elif deferred and tlist[0] == group:
            raise _Invalid("type", path, f"must be {group}")


def _check_number(s: Dict[str, Any], x: Any, path: str) -> None:
    if "maximum" in s and not x <= s["maximum"]:
        raise _Invalid("maximum", path, f"must be <= {s['maximum']}")
    if "minimum" in s and not x >= s["minimum"]:
        raise _Invalid("minimum", path, f"must be >= {s['minimum']}")
    if "exclusiveMaximum" in s and not x < s["exclusiveMaximum"]:
        raise _Invalid("exclusiveMaximum", path, f"must be < {s['exclusiveMaximum']}")
    if "exclusiveMinimum" in s and not x > s["exclusiveMinimum"]:
        raise _Invalid("exclusiveMinimum", path, f"must be > {s['exclusiveMinimum']}")
    if "multipleOf" in s and not float(x / s["multipleOf"]).is_integer():
        raise _Invalid("multipleOf", path, f"must be a multiple of {s['multipleOf']}")


def _check_string(s: Dict[str, Any], x: str, path: str) -> None:
    n = len(x)  # code points
    if "maxLength" in s and n > s["maxLength"]:
        raise _Invalid("maxLength", path, f"must NOT have more than {s['maxLength']} characters")
    if "minLength" in s and n < s["minLength"]:
        raise _Invalid("minLength", path, f"must NOT have fewer than {s['minLength']} characters")
    if "pattern" in s and not _regex(s["pattern"]).search(x):
        raise _Invalid("pattern", path, f'must match pattern "{s["pattern"]}"')
    # LIM-6: a length in bytes of UTF-8, where maxLength counts code points.
    if "maxBytes" in s and len(x.encode("utf-8", "surrogatepass")) > s["maxBytes"]:
        raise _Invalid("maxBytes", path, f"must NOT be longer than {s['maxBytes']} bytes of UTF-8")


def _check_array(s: Dict[str, Any], x: list, path: str) -> None:
    if "maxItems" in s and len(x) > s["maxItems"]:
        raise _Invalid("maxItems", path, f"must NOT have more than {s['maxItems']} items")
    if "minItems" in s and len(x) < s["minItems"]:
        raise _Invalid("minItems", path, f"must NOT have fewer than {s['minItems']} items")
    if s.get("uniqueItems") is True:
        for j in range(len(x)):
            for i in range(j):
                if deep_equal(x[i], x[j]):
                    raise _Invalid("uniqueItems", path, f"must NOT have duplicate items (items ## {i} and {j} are identical)")
    if isinstance(s.get("items"), dict):
        for i, v in enumerate(x):
            _validate(s["items"], v, pointer(path, i))
    if "contains" in s:
        sub = s["contains"]
        found = False
        for v in x:
            try:
                _validate(sub, v, path)
                found = True
                break
            except _Invalid:
                continue
        if not found:
            raise _Invalid("contains", path, "must contain at least 1 valid item(s)")


def _check_object(s: Dict[str, Any], x: dict, path: str) -> None:
    if "maxProperties" in s and len(x) > s["maxProperties"]:
        raise _Invalid("maxProperties", path, f"must NOT have more than {s['maxProperties']} properties")
    if "minProperties" in s and len(x) < s["minProperties"]:
        raise _Invalid("minProperties", path, f"must NOT have fewer than {s['minProperties']} properties")
    for req in s.get("required", []):
        if req not in x:
            raise _Invalid("required", pointer(path, req), f"must have required property '{req}'")
    if "propertyNames" in s:
        for key in x:
            _validate(s["propertyNames"], key, path)  # ajv reports the inner keyword at the object's path
    props = s.get("properties") or {}
    additional = s.get("additionalProperties", True)
    if additional is not True:
        for key, v in x.items():
            if key in props:
                continue
            if additional is False:
                raise _Invalid("additionalProperties", pointer(path, key), "must NOT have additional properties")
            _validate(additional, v, pointer(path, key))
    for key, sub in props.items():
        if key in x:
            _validate(sub, x[key], pointer(path, key))


_GROUP_CHECKS = {"number": _check_number, "string": _check_string, "array": _check_array, "object": _check_object}


def validate_schema(schema: Any, value: Any, name: str = "payload") -> None:
    """Checks an application-model value against a schema; raises the first fault as a ProtocolError."""
    try:
        _validate(schema, value, "")
    except _Invalid as e:
        if e.keyword == "ndarray":
            raise ProtocolError(E.INVALID_ARRAY, f"{name}: {e.message}", path=e.path, rule=e.rule or "wrapper") from None
        text = "is not a field of this type" if e.keyword == "additionalProperties" else e.message
        raise ProtocolError(E.SCHEMA_VIOLATION, f"{name}: {e.path or '/'} {text}", path=e.path, rule=e.keyword) from None


def validate_payload(m: CatalogEntry, value: Any) -> None:
    if not m.payload:
        if value is not None:
            raise ProtocolError(E.SCHEMA_VIOLATION, f"{m.name} carries no payload", path="", rule="empty")
        return
    validate_schema(m.payload, value, m.name)


# ---- payload bytes ------------------------------------------------------------------------------

def _check_depth(data: bytes) -> None:
    """LIM-15: nesting beyond max_payload_depth is refused on the bytes, before the parser recurses."""
    limit = proto.LIMITS.get("max_payload_depth", 64)
    depth, i, n = 0, 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x22:  # skip a string, escapes included
            i += 1
            while i < n and data[i] != 0x22:
                i += 2 if data[i] == 0x5C else 1
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                raise ProtocolError(E.INVALID_PAYLOAD, f"payload nests deeper than max_payload_depth ({limit})", path="", rule="max-depth", limit=limit)
        elif b in (0x5D, 0x7D):
            depth -= 1
        i += 1


#: Payload encodings this Python implements: CBOR needs cbor2 (Debian python3-cbor2).
ENCODINGS = ("json", "cbor") if _cbor.AVAILABLE else ("json",)


def _require(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ProtocolError(E.UNSUPPORTED_ENCODING, f"payload encoding {encoding} is not implemented", rule="encoding")


def decode_payload(m: CatalogEntry, encoding: str, data: bytes) -> Any:
    """Decodes and validates a payload; types without payload decode to None."""
    if not m.payload:
        if len(data) > 0:
            raise ProtocolError(E.SCHEMA_VIOLATION, f"{m.name} carries no payload, got {len(data)} bytes", path="", rule="empty")
        return None
    if len(data) == 0:
        raise ProtocolError(E.INVALID_PAYLOAD, f"{m.name}: payload is empty", path="")
    _require(encoding)
    plan = plan_of(m)
    if encoding == "cbor":
        # Limits, well-formedness and the data model over the whole payload (step 6), then cbor2 reads it.
        node = _cbor.loads(data, _cbor.check(plan, data))
    else:
        _check_depth(data)
        try:
            node = parse_bytes(data)
        except JsonError as e:
            raise ProtocolError(E.INVALID_PAYLOAD, f"{m.name}: payload is not JSON ({e})", path="") from None
    value = from_wire(plan, node, encoding)
    validate_payload(m, value)
    return value


def encode_payload(m: CatalogEntry, value: Any, encoding: str = "json") -> bytes:
    """Validates and encodes a payload (numpy arrays in ndarray fields are accepted)."""
    _require(encoding)
    if not m.payload:
        validate_payload(m, value)
        return b""
    plan = plan_of(m)
    value = normalize(plan, value)
    validate_payload(m, value)
    wire = to_wire(plan, value, encoding)
    return _cbor.dumps(wire) if encoding == "cbor" else dumps_bytes(wire)


def payload_to_fixture(m: CatalogEntry, value: Any) -> Any:
    """The typed-JSON notation of a decoded payload (64-bit fields as strings, ndarrays expanded)."""
    return to_wire(plan_of(m), value, "fixture") if m.payload else None


def payload_from_fixture(m: CatalogEntry, value: Any) -> Any:
    if not m.payload:
        return None
    v = from_wire(plan_of(m), value, "fixture")
    validate_payload(m, v)
    return v
