#!/usr/bin/env python3
"""A JSON-only Concord testee written from docs/guide/implementers.md alone.

Reads v1 frames on stdin, writes v1 frames on stdout (logs on stderr): INIT first,
then for every frame after INIT_ACK its echo or the ERROR of the first failing check.
Standard library only. The catalog is spec/generated/catalog.json (guide section 1).
"""
import base64
import json
import math
import os
import re
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOG_PATH = os.path.join(HERE, "..", "..", "spec", "generated", "catalog.json")

with open(CATALOG_PATH, "rb") as _f:
    CATALOG = json.loads(_f.read().decode("utf-8"))

TYPES = {m["code"]: m for m in CATALOG["messages"]}
BY_NAME = {m["name"]: m for m in CATALOG["messages"]}
ERRORS = {e["name"]: e for e in CATALOG["errors"]}
LIMITS = {lim["name"]: lim["default"] for lim in CATALOG["limits"]}
FRAMING = CATALOG["framing"]
NDARRAY = CATALOG["ndarray"]

MAX_FRAME = LIMITS["max_frame"]
MAX_HEADER = LIMITS["max_header"]
MAX_ID_BYTES = LIMITS["max_id_bytes"]
MAX_NAME_BYTES = LIMITS["max_name_bytes"]
MAX_DEPTH = LIMITS["max_payload_depth"]
PREFIX = FRAMING["body_prefix_bytes"]
ENC_MASK = FRAMING["encoding_mask"]
RESERVED_MASK = FRAMING["reserved_flags_mask"]
JSON_ENCODING = next(e["value"] for e in FRAMING["encodings"] if e["name"] == "json")
WRAPPER = NDARRAY["json_wrapper"]
MAX_NDIM = NDARRAY["max_ndim"]
MAX_DTYPE_LEN = NDARRAY["max_dtype_len"]
DTYPE_CODES = {}  # code -> (name, kind, itemsize)
for _d in NDARRAY["dtypes"]:
    for _c in _d["codes"]:
        DTYPE_CODES[_c] = (_d["name"], _d["kind"], _d["itemsize"])

TS_RE = re.compile(r"(0|[1-9][0-9]{0,19})\Z")  # BODY-5
UINT64_RE = re.compile(r"(0|[1-9][0-9]{0,19})\Z")  # ENC-12
INT64_RE = re.compile(r"-?(0|[1-9][0-9]{0,18})\Z")
NAME_BAD_RE = re.compile("[\u0000-\u001f\u007f]")
ANNOTATIONS = {"description", "title"}


def log(msg):
    sys.stderr.write("testee: %s\n" % msg)
    sys.stderr.flush()


class Fault(Exception):
    def __init__(self, code, message, path=None, rule=None, limit=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.path, self.rule, self.limit = path, rule, limit


def utf8_len(s):
    return len(s.encode("utf-8", "surrogatepass"))


def pointer(path, key):
    return path + "/" + str(key).replace("~", "~0").replace("/", "~1")


# ---------------------------------------------------------------- strict JSON (guide 2.3 step 6, 2.10)

def _bad_constant(name):
    raise ValueError("non-JSON constant " + name)


def _parse_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError("number outside binary64 range")
    return value


def _parse_int(text):
    value = int(text)
    if abs(value) > 1.7976931348623157e308:
        raise ValueError("number outside binary64 range")
    return value


def json_depth(text):
    """Deepest bracket nesting, counted outside strings, before any value is built."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def strict_json(data, max_depth=None):
    """Parse UTF-8 JSON bytes strictly; raise ValueError with a reason, or ('depth', n)."""
    text = data.decode("utf-8")  # strict: invalid UTF-8 raises UnicodeDecodeError (a ValueError)
    if text.startswith("\ufeff"):
        raise ValueError("byte order mark")
    if max_depth is not None and json_depth(text) > max_depth:
        raise DepthError()
    return json.loads(text, parse_constant=_bad_constant, parse_float=_parse_float,
                      parse_int=_parse_int)


class DepthError(ValueError):
    pass


# ---------------------------------------------------------------- header (step 3)

def check_id_like(header, key):
    value = header[key]
    if not isinstance(value, str) or not 1 <= utf8_len(value) <= MAX_ID_BYTES:
        raise Fault("INVALID_HEADER", "header %s must be a string of 1 to %d bytes" % (key, MAX_ID_BYTES),
                    path="/header/" + key)


def parse_header(raw):
    """Returns (header, readable_id). Raises Fault (with .re set when the id was readable)."""
    if len(raw) == 0 or len(raw) > MAX_HEADER:
        raise Fault("INVALID_HEADER", "hlen %d outside 1..%d" % (len(raw), MAX_HEADER), path="/header")
    try:
        header = strict_json(raw)
    except (ValueError, RecursionError) as exc:
        raise Fault("INVALID_HEADER", "header is not UTF-8 JSON: %s" % exc, path="/header")
    if not isinstance(header, dict):
        raise Fault("INVALID_HEADER", "header is not a JSON object", path="/header")
    if "id" not in header:
        raise Fault("INVALID_HEADER", "header lacks id", path="/header/id")
    check_id_like(header, "id")
    rid = header["id"]
    try:
        if "re" in header:
            check_id_like(header, "re")
        for key in ("src", "dst"):
            if key in header:
                v = header[key]
                if (not isinstance(v, str) or not 1 <= utf8_len(v) <= MAX_NAME_BYTES
                        or NAME_BAD_RE.search(v)):
                    raise Fault("INVALID_HEADER", "header %s is not a Name" % key, path="/header/" + key)
        if "ts" in header:
            ts = header["ts"]
            if not isinstance(ts, str) or not TS_RE.match(ts) or int(ts) > 2 ** 64 - 1:
                raise Fault("INVALID_HEADER", "header ts is not a u64 decimal string", path="/header/ts")
    except Fault as fault:
        fault.re = rid
        raise
    return header, rid


# ---------------------------------------------------------------- ndarray (step 7, guide 2.5)

def check_ndarray(value, spec, path):
    """Check one ndarray field value against the layout and the field's keyword (None: any field)."""
    def fail(rule, why):
        raise Fault("INVALID_ARRAY", "%s: ndarray %s" % (path or "/", why), path=path, rule=rule)

    if not (isinstance(value, dict) and list(value.keys()) == [WRAPPER] and isinstance(value[WRAPPER], str)):
        fail("wrapper", "is not an object whose only key is %s holding a string" % WRAPPER)
    text = value[WRAPPER]
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        fail("wrapper", "is not valid base64")
    if base64.b64encode(raw).decode("ascii") != text:
        fail("wrapper", "base64 is not canonical")

    pos = 0

    def u64(rule_if_short):
        nonlocal pos
        if len(raw) - pos < 8:
            fail(rule_if_short, "is truncated")
        (n,) = struct.unpack_from("<Q", raw, pos)
        pos += 8
        return n

    ndim = u64("truncated")
    if ndim > MAX_NDIM:
        fail("ndim-range", "ndim %d above %d" % (ndim, MAX_NDIM))
    if len(raw) - pos < 8 * ndim + 8:
        fail("truncated", "dims or dtype_len missing")
    dims = [u64("truncated") for _ in range(ndim)]
    dtype_len = u64("truncated")
    if dtype_len > MAX_DTYPE_LEN:
        fail("dtype-unknown", "dtype_len %d above %d" % (dtype_len, MAX_DTYPE_LEN))
    if len(raw) - pos < dtype_len:
        fail("truncated", "dtype missing")
    dtype_bytes = raw[pos:pos + dtype_len]
    pos += dtype_len
    try:
        dtype = DTYPE_CODES[dtype_bytes.decode("ascii")]
    except (UnicodeDecodeError, KeyError):
        fail("dtype-unknown", "dtype %r not listed" % dtype_bytes)
    data_len = u64("truncated")
    count = 1
    for d in dims:
        count *= d
    if data_len != count * dtype[2]:
        fail("data-length", "data_len %d is not %d x %d" % (data_len, count, dtype[2]))
    if len(raw) - pos < data_len + 8:
        fail("truncated", "data or meta_len missing")
    data = raw[pos:pos + data_len]
    pos += data_len
    meta_len = u64("truncated")
    if len(raw) - pos < meta_len:
        fail("truncated", "meta missing")
    meta = raw[pos:pos + meta_len]
    pos += meta_len
    try:
        meta_value = strict_json(meta, MAX_DEPTH)
    except (ValueError, RecursionError):
        meta_value = None
    if not isinstance(meta_value, dict):
        fail("meta-json", "meta is not a UTF-8 JSON object")
    if pos != len(raw):
        fail("trailing-bytes", "%d bytes after meta" % (len(raw) - pos))
    if dtype[1] == "b" and any(b > 1 for b in data):
        fail("bool-value", "bool element neither 0 nor 1")
    if spec is None:
        return
    if dtype[0] not in spec.get("dtypes", [dtype[0]]):
        fail("field-dtype", "dtype %s not allowed" % dtype[0])
    if "ndim" in spec and ndim != spec["ndim"]:
        fail("field-shape", "ndim %d, field wants %d" % (ndim, spec["ndim"]))
    shape = spec.get("shape")
    if shape is not None:
        if len(shape) != ndim or any(s is not None and s != d for s, d in zip(shape, dims)):
            fail("field-shape", "shape %r, field wants %r" % (dims, shape))
    if count < spec.get("minSize", 0) or ("maxSize" in spec and count > spec["maxSize"]):
        fail("field-shape", "%d elements outside the field's size range" % count)


def scan_any(value, path):
    """A field that allows any value: every object whose only key is the wrapper is an ndarray (ARR-8)."""
    if isinstance(value, dict):
        if list(value.keys()) == [WRAPPER]:
            check_ndarray(value, None, path)
            return
        for k, v in value.items():
            scan_any(v, pointer(path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            scan_any(v, pointer(path, i))


def find_ndarrays(schema, value, path):
    if not isinstance(schema, dict):
        return
    if "ndarray" in schema:
        check_ndarray(value, schema["ndarray"], path)
        return
    if set(schema) <= ANNOTATIONS:
        scan_any(value, path)
        return
    if not type_ok(schema.get("type"), value):
        return
    if isinstance(value, dict) and ("properties" in schema or "additionalProperties" in schema):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                find_ndarrays(props[k], v, pointer(path, k))
            elif isinstance(extra, dict):
                find_ndarrays(extra, v, pointer(path, k))
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            find_ndarrays(schema["items"], v, pointer(path, i))


# ---------------------------------------------------------------- schema (step 8, guide 2.6)

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_ok(t, v):
    if t is None:
        return True
    if isinstance(t, list):
        return any(type_ok(x, v) for x in t)
    return {
        "object": lambda: isinstance(v, dict),
        "array": lambda: isinstance(v, list),
        "string": lambda: isinstance(v, str),
        "boolean": lambda: isinstance(v, bool),
        "null": lambda: v is None,
        "number": lambda: is_num(v),
        "integer": lambda: is_num(v) and (isinstance(v, int) or v.is_integer()),
    }[t]()


def canon(v):
    """A hashable form for JSON equality: booleans apart from numbers, 1 == 1.0."""
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if is_num(v):
        return ("num", v)
    if isinstance(v, str):
        return ("str", v)
    if isinstance(v, list):
        return ("arr", tuple(canon(x) for x in v))
    return ("obj", frozenset((k, canon(x)) for k, x in v.items()))


_PATTERNS = {}


def pattern_re(p):
    if p not in _PATTERNS:
        _PATTERNS[p] = re.compile(p[:-1] + r"\Z" if p.endswith("$") and not p.endswith("\\$") else p)
    return _PATTERNS[p]


def schema_fault(path, rule, why):
    return Fault("SCHEMA_VIOLATION", "%s: %s" % (path or "/", why), path=path, rule=rule)


def validate(s, v, path):
    if not isinstance(s, dict):
        if s is False:
            raise schema_fault(path, "false", "no value allowed")
        return
    if "ndarray" in s:
        return  # checked at step 7
    if "int64" in s:
        kind = s["int64"]
        ok = isinstance(v, str) and (UINT64_RE if kind == "uint64" else INT64_RE).match(v) is not None
        if ok:
            n = int(v)
            ok = (0 <= n <= 2 ** 64 - 1) if kind == "uint64" else (-2 ** 63 <= n <= 2 ** 63 - 1 and v != "-0")
        if not ok:
            raise schema_fault(path, "int64", "must be a %s decimal string" % kind)
    if "type" in s and not type_ok(s["type"], v):
        raise schema_fault(path, "type", "must be %s" % s["type"])
    if "const" in s and canon(s["const"]) != canon(v):
        raise schema_fault(path, "const", "must equal %r" % (s["const"],))
    if "enum" in s and canon(v) not in [canon(e) for e in s["enum"]]:
        raise schema_fault(path, "enum", "must be one of %r" % (s["enum"],))
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            raise schema_fault(path, "minLength", "shorter than %d characters" % s["minLength"])
        if "maxLength" in s and len(v) > s["maxLength"]:
            raise schema_fault(path, "maxLength", "longer than %d characters" % s["maxLength"])
        if "maxBytes" in s and utf8_len(v) > s["maxBytes"]:
            raise schema_fault(path, "maxBytes", "longer than %d bytes" % s["maxBytes"])
        if "pattern" in s and not pattern_re(s["pattern"]).search(v):
            raise schema_fault(path, "pattern", "must match %s" % s["pattern"])
    elif is_num(v):
        if "minimum" in s and v < s["minimum"]:
            raise schema_fault(path, "minimum", "below %s" % s["minimum"])
        if "maximum" in s and v > s["maximum"]:
            raise schema_fault(path, "maximum", "above %s" % s["maximum"])
        if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            raise schema_fault(path, "exclusiveMinimum", "not above %s" % s["exclusiveMinimum"])
        if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
            raise schema_fault(path, "exclusiveMaximum", "not below %s" % s["exclusiveMaximum"])
    elif isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            raise schema_fault(path, "minItems", "fewer than %d items" % s["minItems"])
        if "maxItems" in s and len(v) > s["maxItems"]:
            raise schema_fault(path, "maxItems", "more than %d items" % s["maxItems"])
        if s.get("uniqueItems") and len({canon(x) for x in v}) != len(v):
            raise schema_fault(path, "uniqueItems", "items are not unique")
        if "contains" in s:
            for x in v:
                try:
                    validate(s["contains"], x, path)
                    break
                except Fault:
                    pass
            else:
                raise schema_fault(path, "contains", "no item matches contains")
        if isinstance(s.get("items"), dict):
            for i, x in enumerate(v):
                validate(s["items"], x, pointer(path, i))
    elif isinstance(v, dict):
        for name in s.get("required", []):
            if name not in v:
                raise schema_fault(pointer(path, name), "required", "required member missing")
        if "minProperties" in s and len(v) < s["minProperties"]:
            raise schema_fault(path, "minProperties", "fewer than %d members" % s["minProperties"])
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            raise schema_fault(path, "maxProperties", "more than %d members" % s["maxProperties"])
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        if extra is False:
            for k in v:
                if k not in props:
                    raise schema_fault(pointer(path, k), "additionalProperties", "unknown member")
        if "propertyNames" in s:
            for k in v:
                try:
                    validate(s["propertyNames"], k, pointer(path, k))
                except Fault as f:
                    raise schema_fault(pointer(path, k), "propertyNames", "member name: " + f.message)
        for k, sub in props.items():
            if k in v:
                validate(sub, v[k], pointer(path, k))
        if isinstance(extra, dict):
            for k in v:
                if k not in props:
                    validate(extra, v[k], pointer(path, k))


# ---------------------------------------------------------------- frames

def decode_body(body):
    """Steps 2-8. Returns (type_code, flags, header_id, payload_value_or_None)."""
    if len(body) < PREFIX:
        raise Fault("MALFORMED_FRAME", "body of %d bytes, shorter than its prefix" % len(body))
    code, flags, hlen = body[0], body[1], struct.unpack_from(">H", body, 2)[0]
    if flags & RESERVED_MASK:
        raise Fault("MALFORMED_FRAME", "reserved flag bits set: 0x%02x" % flags)
    if hlen > len(body) - PREFIX:
        raise Fault("MALFORMED_FRAME", "hlen %d overruns the body" % hlen)
    header, rid = parse_header(body[PREFIX:PREFIX + hlen])
    try:
        return (code, flags, rid) + (decode_payload(code, flags, body[PREFIX + hlen:]),)
    except Fault as fault:
        fault.re = rid
        raise


def decode_payload(code, flags, data):
    mtype = TYPES.get(code)
    if mtype is None:
        raise Fault("UNKNOWN_TYPE", "type 0x%02x is not in the catalog" % code)
    if flags & ENC_MASK != JSON_ENCODING:
        raise Fault("UNSUPPORTED_ENCODING", "encoding %d not negotiated" % (flags & ENC_MASK))
    schema = mtype["payload"]
    if schema is None:
        if data:
            raise Fault("SCHEMA_VIOLATION", "%s takes no payload" % mtype["name"], path="", rule="empty")
        return None
    if not data:
        raise Fault("INVALID_PAYLOAD", "%s needs a payload ({} when it has no field)" % mtype["name"], path="")
    try:
        value = strict_json(data, MAX_DEPTH)
    except DepthError:
        raise Fault("INVALID_PAYLOAD", "payload nested deeper than %d" % MAX_DEPTH, path="", rule="max-depth")
    except (ValueError, RecursionError) as exc:
        raise Fault("INVALID_PAYLOAD", "payload is not strict JSON: %s" % exc, path="")
    find_ndarrays(schema, value, "")
    validate(schema, value, "")
    return value


def frame(code, header, payload_bytes):
    head = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    body = struct.pack(">BBH", code, JSON_ENCODING, len(head)) + head + payload_bytes
    return struct.pack(">I", len(body)) + body


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def encode_json(value):
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")


class Testee:
    def __init__(self):
        self.counter = 0
        self.handshaken = False

    def fresh_id(self):
        self.counter += 1
        return "t-%d" % self.counter

    def send_error(self, fault, rid):
        entry = ERRORS[fault.code]
        details = {}
        for key in ("path", "rule", "limit"):
            if getattr(fault, key) is not None:
                details[key] = getattr(fault, key)
        payload = {"code": fault.code, "message": fault.message[:4096], "definite": entry["definite"]}
        if details:
            payload["details"] = details
        header = {"id": self.fresh_id()}
        if rid is not None:
            header["re"] = rid
        log("refused: %s %s" % (fault.code, fault.message))
        write_all(frame(BY_NAME["ERROR"]["code"], header, encode_json(payload)))
        return entry["closes"]

    def handle(self, body):
        """Answer one frame body; return True when the output must close."""
        try:
            code, flags, rid, value = decode_body(body)
        except Fault as fault:
            return self.send_error(fault, getattr(fault, "re", None))
        if not self.handshaken and code == BY_NAME["INIT_ACK"]["code"]:
            self.handshaken = True  # the one frame never echoed
            return False
        try:
            payload = b"" if value is None else encode_json(value)
        except (ValueError, TypeError) as exc:
            return self.send_error(Fault("INTERNAL", "cannot encode the echo: %s" % exc), rid)
        write_all(frame(code, {"id": self.fresh_id(), "re": rid}, payload))
        return False

    def run(self):
        init = {"client_id": "from-guide-%d" % os.getpid(), "role": "testee", "name": "from-guide",
                "language": "python", "version": "0.1.0", "protocol_version": CATALOG["protocol_version"],
                "encodings": ["json"], "max_frame": MAX_FRAME, "features": []}
        write_all(frame(BY_NAME["INIT"]["code"], {"id": "init"}, encode_json(init)))
        buf = b""
        while True:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 4:
                (length,) = struct.unpack_from(">I", buf, 0)
                if length == 0:
                    self.send_error(Fault("MALFORMED_FRAME", "length 0"), None)
                    return
                if length > MAX_FRAME:
                    self.send_error(Fault("FRAME_TOO_LARGE", "length %d above max_frame %d"
                                          % (length, MAX_FRAME), limit=MAX_FRAME), None)
                    return
                if len(buf) < 4 + length:
                    break
                body, buf = buf[4:4 + length], buf[4 + length:]
                if self.handle(body):
                    return
        if buf:
            log("end of input inside a frame: %d bytes dropped" % len(buf))


def exit_when_parent_dies():
    """STDIO-3 (guide 2.8): a daemon thread ends the testee once its parent is gone."""
    first = os.getppid()

    def watch():
        while os.getppid() == first:
            time.sleep(0.25)
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


def main():
    exit_when_parent_dies()
    try:
        Testee().run()
    finally:
        try:
            os.close(1)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
