"""The bus's typed error: a code of the error registry, a message and details."""
from __future__ import annotations

import re
from typing import Any, Dict, Optional

import importlib.util
import os
import sys
from pathlib import Path


def _load_protocol():
    """The generated constants (spec/generated/python), loaded alone: the bus needs no codec."""
    if "concord_protocol" in sys.modules:
        return sys.modules["concord_protocol"]
    spec_dir = Path(os.environ.get("CONCORD_SPEC_DIR") or Path(__file__).resolve().parents[3] / "spec")
    spec = importlib.util.spec_from_file_location("concord_protocol", spec_dir / "generated" / "python" / "concord_protocol.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["concord_protocol"] = module
    spec.loader.exec_module(module)
    return module


#: The generated constants module: error names, the catalog's timeouts, dispatch defaults.
proto = _load_protocol()
ErrorCode = proto.ErrorCode
_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def code_name(code: Any) -> str:
    return code.value if isinstance(code, ErrorCode) else str(code)


class BusError(Exception):
    def __init__(self, code: Any, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code_name(code)
        self.message = message
        self.details: Dict[str, Any] = details or {}


def as_bus_error(e: BaseException) -> BusError:
    """Any failure as a BusError: one with a registry-like code keeps it, anything else is INTERNAL."""
    if isinstance(e, BusError):
        return e
    code = getattr(e, "code", None)
    if isinstance(code, str) and _CODE.match(code):
        return BusError(code, str(e))
    return BusError(ErrorCode.INTERNAL, f"{type(e).__name__}: {e}")
