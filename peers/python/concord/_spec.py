"""Locates spec/ and loads what the peer needs from it at runtime.

The generated constants (spec/generated/python/concord_protocol.py) and the message catalog and
shared schemas (spec/messages/*.json, spec/defs.json) are read from the spec directory, found
relative to this package (peers/python/concord -> ../../../spec) or from $CONCORD_SPEC_DIR.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CatalogEntry:
    """One message type: the generated constants plus what only the JSON catalog holds."""

    code: int
    name: str
    kind: str
    response: Optional[str]
    timeout_ms: Optional[int]
    directions: Tuple[str, ...]
    payload: Optional[Dict[str, Any]]


def _load_catalog() -> Tuple[Dict[int, CatalogEntry], Dict[str, Any]]:
    defs = json.loads((SPEC_DIR / "defs.json").read_text(encoding="utf-8"))["$defs"]
    entries: Dict[int, CatalogEntry] = {}
    for f in sorted((SPEC_DIR / "messages").glob("*.json")):
        for m in json.loads(f.read_text(encoding="utf-8"))["messages"]:
            info = proto.MESSAGES.get(m["code"])
            if info is None or info.name != m["name"]:
                raise RuntimeError(f"{f.name}: {m['name']} disagrees with the generated constants")
            entries[info.code] = CatalogEntry(
                info.code, info.name, info.kind, info.response, info.timeout_ms,
                tuple(m.get("directions", ())), m.get("payload"),
            )
    missing = set(proto.MESSAGES) - set(entries)
    if missing:
        raise RuntimeError(f"catalog lacks types {sorted(missing)}")
    return entries, defs


CATALOG, SCHEMA_DEFS = _load_catalog()
CATALOG_BY_NAME: Dict[str, CatalogEntry] = {e.name: e for e in CATALOG.values()}


def message_info(type_: Any) -> CatalogEntry:
    """The catalog entry of a type code, MessageType or name; KeyError when unknown."""
    if isinstance(type_, str):
        return CATALOG_BY_NAME[type_]
    return CATALOG[int(type_)]
