"""The command domains (spec/instrument/commands.json, read from the generated catalog's `instrument`)
and the typed error a command fails with."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, Optional

from concord._spec import CATALOG_FILE


@lru_cache(maxsize=1)
def instrument_spec() -> Dict[str, Any]:
    """The commands and domains; raises OSError/ValueError/KeyError when unreadable (the worker exits 70)."""
    return json.loads(CATALOG_FILE.read_text(encoding="utf-8"))["instrument"]


class CommandError(Exception):
    """A command failed: one ERROR frame with a registry code (UNKNOWN_COMMAND, INVALID_PARAMS,
    HARDWARE_ERROR, TIMEOUT, SHUTTING_DOWN), the message and details."""

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})
