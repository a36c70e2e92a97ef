"""The binary array layout of section 5 (decision D4) with numpy. The field order comes from the
generated NDARRAY_FIELDS; faults are INVALID_ARRAY with the rule names of spec/ndarray.json, found
in the reference codec's order (every field read and length-checked first, then dtype, data length,
meta, bool values)."""
from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

from ._json import JsonError, dumps_bytes, parse_bytes
from ._spec import proto
from .errors import ProtocolError

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

DTYPES = proto.DTYPES  # code -> (name, kind, itemsize)
NDARRAY_FIELDS = proto.NDARRAY_FIELDS
MAX_NDIM = proto.LIMITS.get("max_ndim", proto.NDARRAY_MAX_NDIM)
MAX_DTYPE_LEN = proto.NDARRAY_MAX_DTYPE_LEN
_EMPTY_META = b"{}"


def dtype_code(name: str, order: str = "little") -> str:
    """The wire code of a dtype name in a byte order (`float32` -> `<f4`)."""
    codes = [c for c, (n, _k, _s) in DTYPES.items() if n == name]
    if not codes:
        raise ValueError(f"dtype_code: unknown dtype {name}")
    if len(codes) == 1:
        return codes[0]
    want = "<" if order == "little" else ">"
    return next(c for c in codes if c[0] == want)


class NDArray:
    """An n-dimensional array as it travels: the wire dtype code (byte order kept, so re-encoding
    gives the same bytes), the shape, the elements (a flat numpy array of that dtype, C order) and
    the meta object. `array` gives the elements in their shape."""

    __slots__ = ("dtype", "shape", "data", "meta")

    def __init__(self, dtype: str, shape: Sequence[int], data: np.ndarray, meta: Optional[Dict[str, Any]] = None) -> None:
        if dtype not in DTYPES:
            raise ValueError(f"NDArray: unknown dtype {dtype}")
        shape = tuple(int(d) for d in shape)
        if len(shape) > MAX_NDIM:
            raise ValueError(f"NDArray: {len(shape)} dimensions exceed {MAX_NDIM}")
        if any(d < 0 for d in shape):
            raise ValueError("NDArray: negative dimension")
        flat = np.asarray(data).reshape(-1)
        if flat.dtype != np.dtype(dtype) or flat.dtype.str != np.dtype(dtype).str:
            flat = flat.astype(np.dtype(dtype))
        if flat.size != math.prod(shape):
            raise ValueError(f"NDArray: {flat.size} elements do not fill shape {list(shape)}")
        self.dtype = dtype
        self.shape = shape
        self.data = flat
        self.meta = dict(meta) if meta else {}

    @classmethod
    def from_numpy(cls, array: Any, meta: Optional[Dict[str, Any]] = None, order: Optional[str] = None) -> "NDArray":
        """From a numpy array (or anything np.asarray takes); `order` 'little'/'big' forces the byte order."""
        a = np.asarray(array)
        name_kind = a.dtype.kind
        code = a.dtype.str
        if order is not None and a.dtype.itemsize > 1:
            code = ("<" if order == "little" else ">") + code[1:]
        if code not in DTYPES or name_kind not in "biuf":
            raise TypeError(f"NDArray.from_numpy: dtype {a.dtype} is not a wire dtype")
        return cls(code, a.shape, np.ascontiguousarray(a).reshape(-1).astype(np.dtype(code), copy=False), meta)

    @classmethod
    def from_values(cls, dtype: str, shape: Sequence[int], values: Iterable[Any], meta: Optional[Dict[str, Any]] = None) -> "NDArray":
        info = DTYPES.get(dtype)
        if info is None:
            raise ValueError(f"NDArray.from_values: unknown dtype {dtype}")
        vals = list(values)
        if info[1] in "iu" and info[2] == 8:
            vals = [int(v) for v in vals]
        return cls(dtype, shape, np.array(vals, dtype=np.dtype(dtype)), meta)

    @property
    def dtype_name(self) -> str:
        return DTYPES[self.dtype][0]

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def array(self) -> np.ndarray:
        """The elements in their shape (a view when numpy can represent the shape)."""
        return self.data.reshape(self.shape)

    def tolist(self) -> list:
        return self.data.tolist()

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, NDArray):
            return NotImplemented
        return (self.dtype == other.dtype and self.shape == other.shape and self.meta == other.meta
                and self.data.tobytes() == other.data.tobytes())

    def __repr__(self) -> str:
        return f"NDArray({self.dtype!r}, {list(self.shape)}, size={self.size}, meta={self.meta!r})"


def _fail(rule: str, message: str, path: str) -> None:
    raise ProtocolError(E.INVALID_ARRAY, message, path=path, rule=rule)


def _u64(b: bytes, off: int) -> int:
    return int.from_bytes(b[off:off + 8], "little")


def _check_field(name: str, out: Dict[str, Any], path: str) -> None:
    """The rules of the check table that a field decides as soon as it is read (ARR-7 order)."""
    if name == "ndim" and out["ndim"] > MAX_NDIM:  # rule 3
        _fail("ndim-range", f"ndim {out['ndim']} exceeds {MAX_NDIM}", path)
    elif name == "dtype_len" and out["dtype_len"] > MAX_DTYPE_LEN:  # rule 5
        _fail("dtype-unknown", f"dtype_len {out['dtype_len']} exceeds {MAX_DTYPE_LEN}", path)
    elif name == "dtype":  # rule 7
        dtype = out["dtype"].decode("latin-1")
        if dtype not in DTYPES:
            _fail("dtype-unknown", f"dtype {dtype!r} is not one of the listed codes", path)
    elif name == "data_len":  # rule 9, before the data's presence (rule 10)
        itemsize = DTYPES[out["dtype"].decode("latin-1")][2]
        if math.prod(out["dims"]) * itemsize != out["data_len"]:
            _fail("data-length", f"data_len {out['data_len']} differs from product(dims) x {itemsize} bytes", path)


def _read_fields(b: bytes, path: str) -> Dict[str, Any]:
    """Reads the fields in layout order, applying each rule once its field is read, so the rule
    reported is the first broken in the check table's order; meta (11) and trailing bytes (12) follow."""
    total = len(b)
    out: Dict[str, Any] = {}
    off = 0
    for name, ftype, count_field, length_field in NDARRAY_FIELDS:
        if ftype == "u64le":
            count = 1 if count_field is None else out[count_field]
            if off + 8 * count > total:
                _fail("truncated", f"ndarray ends inside {name} (needs {8 * count} bytes at offset {off}, has {total - off})", path)
            if count_field is None:
                out[name] = _u64(b, off)
            else:
                out[name] = [_u64(b, off + 8 * i) for i in range(count)]
            off += 8 * count
        else:
            n = out[length_field]
            if n > total - off:
                _fail("truncated", f"{length_field} is {n} but only {total - off} bytes remain", path)
            out[name] = b[off:off + n]
            off += n
        _check_field(name, out, path)
    meta_bytes = out["meta"]
    if meta_bytes == _EMPTY_META:
        out["meta"] = {}
    else:
        try:
            out["meta"] = parse_bytes(meta_bytes)
        except JsonError:
            _fail("meta-json", "meta is not UTF-8 JSON", path)
    if not isinstance(out["meta"], dict):
        _fail("meta-json", "meta is not a JSON object", path)
    if off != total:
        _fail("trailing-bytes", f"{total - off} bytes follow the meta block", path)
    return out


def unpack(data: bytes, path: str = "") -> NDArray:
    """Decodes the layout; faults are INVALID_ARRAY naming `path` and the rule."""
    b = bytes(data)
    f = _read_fields(b, path)
    dims = f["dims"]
    dtype = f["dtype"].decode("latin-1")
    info = DTYPES[dtype]
    raw = f["data"]
    meta = f["meta"]
    values = np.frombuffer(raw, dtype=np.dtype(dtype))
    if info[1] == "b":
        u = np.frombuffer(raw, dtype=np.uint8)
        bad = np.flatnonzero(u > 1)
        if bad.size:
            _fail("bool-value", f"bool element {int(bad[0])} is {int(u[bad[0]])}", path)
    arr = NDArray.__new__(NDArray)
    arr.dtype, arr.shape, arr.data, arr.meta = dtype, tuple(dims), values, meta
    return arr


def pack(array: Any) -> bytes:
    """Encodes an NDArray (or a numpy array) in the layout, in the byte order its dtype names."""
    if not isinstance(array, NDArray):
        array = NDArray.from_numpy(array)
    dtype = array.dtype.encode("ascii")
    meta = dumps_bytes(array.meta) if array.meta else _EMPTY_META
    raw = np.ascontiguousarray(array.data, dtype=np.dtype(array.dtype)).tobytes()
    blocks = {"ndim": len(array.shape), "dims": array.shape, "dtype_len": len(dtype), "dtype": dtype,
              "data_len": len(raw), "data": raw, "meta_len": len(meta), "meta": meta}
    parts = []
    for name, ftype, count_field, _length in NDARRAY_FIELDS:
        v = blocks[name]
        if ftype == "u64le" and count_field is None:
            parts.append(int(v).to_bytes(8, "little"))
        elif ftype == "u64le":
            parts.extend(int(x).to_bytes(8, "little") for x in v)
        else:
            parts.append(bytes(v))
    return b"".join(parts)


def _float_fixture(v: float) -> Any:
    if math.isnan(v):
        return {"$float": "NaN"}
    if math.isinf(v):
        return {"$float": "Infinity" if v > 0 else "-Infinity"}
    if v == 0 and math.copysign(1.0, v) < 0:
        return {"$float": "-0"}
    return v


def to_fixture(array: NDArray) -> Dict[str, Any]:
    """The typed-JSON form: {"$ndarray": {dtype, shape, data, meta}}, 64-bit integers as decimal strings."""
    _name, kind, size = DTYPES[array.dtype]
    items = array.data.tolist()
    if kind == "b":
        data = [bool(v) for v in items]
    elif kind in "iu" and size == 8:
        data = [str(int(v)) for v in items]
    elif kind in "iu":
        data = [int(v) for v in items]
    else:
        data = [_float_fixture(float(v)) for v in items]
    return {proto.NDARRAY_JSON_WRAPPER: {"dtype": array.dtype, "shape": list(array.shape), "data": data, "meta": array.meta}}


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}


def from_fixture(node: Any) -> NDArray:
    """An NDArray from the typed-JSON form (expanded or its inner object)."""
    o = node.get(proto.NDARRAY_JSON_WRAPPER, node) if isinstance(node, dict) else None
    if not isinstance(o, dict) or "dtype" not in o:
        raise ValueError("from_fixture: not an expanded ndarray")
    kind = DTYPES[o["dtype"]][1]
    vals = []
    for v in o["data"]:
        if isinstance(v, dict) and "$float" in v:
            vals.append(_SPECIAL[v["$float"]])
        elif isinstance(v, str):
            vals.append(int(v))
        elif isinstance(v, bool):
            vals.append(int(v))
        else:
            vals.append(v)
    if kind == "f":
        data = np.array(vals, dtype=np.float64).astype(np.dtype(o["dtype"]))
    else:
        data = np.array(vals, dtype=np.dtype(o["dtype"])) if vals else np.zeros(0, dtype=np.dtype(o["dtype"]))
    return NDArray(o["dtype"], o["shape"], data, o.get("meta") or {})
