"""Locates spec/ and loads what the peer needs from it at runtime.

Two generated files, nothing of spec/'s authoring form: the constants module
(spec/generated/python/concord_protocol.py) and the catalog (spec/generated/catalog.json, every
message type with its standalone payload schema). The spec directory is found relative to this
package (peers/python/concord -> ../../../spec) or from $CONCORD_SPEC_DIR; $CONCORD_CATALOG names the
catalog file itself (for example the one inside an installed npm package).
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import make_dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple


def _spec_dir() -> Path:
    env = os.environ.get("CONCORD_SPEC_DIR")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3] / "spec"


SPEC_DIR = _spec_dir()


def _load_generated():
    path = SPEC_DIR / "generated" / "python" / "concord_protocol.py"
    name = "concord_protocol"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: The generated constants module (message types, errors, limits, ndarray layout).
proto = _load_generated()


CATALOG_FILE = Path(os.environ.get("CONCORD_CATALOG") or SPEC_DIR / "generated" / "catalog.json").resolve()


def _load_catalog() -> Tuple[Dict[int, Any], Dict[str, Any], Any]:
    """The catalog's records as CatalogEntry objects whose fields are the record's keys: the record's
    shape is described once, by spec/catalog.schema.json, and not again here."""
    doc = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    records = doc["messages"]
    fields = list(records[0])
    entry_type = make_dataclass("CatalogEntry", [(f, Any) for f in fields], frozen=True)
    entry_type.__doc__ = "One message type, as a record of spec/generated/catalog.json (spec/catalog.schema.json)."
    entries: Dict[int, Any] = {}
    for m in records:
        if list(m) != fields:
            raise RuntimeError(f"{CATALOG_FILE}: record {m.get('name')} has fields {list(m)}, expected {fields}")
        info = proto.MESSAGES.get(m["code"])
        if info is None or info.name != m["name"]:
            raise RuntimeError(f"{CATALOG_FILE}: {m['name']} disagrees with the generated constants")
        entries[m["code"]] = entry_type(**{**m, "directions": tuple(m["directions"])})
    missing = set(proto.MESSAGES) - set(entries)
    if missing:
        raise RuntimeError(f"catalog lacks types {sorted(missing)}")
    return entries, doc["defs"], entry_type


CATALOG, SCHEMA_DEFS, CatalogEntry = _load_catalog()
CATALOG_BY_NAME: Dict[str, CatalogEntry] = {e.name: e for e in CATALOG.values()}


def reaches_client(info: CatalogEntry) -> bool:
    """Whether a broker may write this type to a client (directions broker-to-client or routed); a
    client-side receiver refuses any other with UNEXPECTED_MESSAGE (REQ-6, step 10) before ERR-8's step 13."""
    return "broker-to-client" in info.directions or "routed" in info.directions


def message_info(type_: Any) -> CatalogEntry:
    """The catalog entry of a type code, MessageType or name; KeyError when unknown."""
    if isinstance(type_, str):
        return CATALOG_BY_NAME[type_]
    return CATALOG[int(type_)]
