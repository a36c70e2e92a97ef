"""The command domains (spec/instrument/commands.json) and the typed error a command fails with."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Dict, Optional

from concord import SPEC_DIR


@lru_cache(maxsize=1)
def instrument_spec() -> Dict[str, Any]:
    """The parsed commands.json; raises OSError/ValueError when unreadable (the worker exits 70)."""
    return json.loads((SPEC_DIR / "instrument" / "commands.json").read_text(encoding="utf-8"))


class CommandError(Exception):
    """A command failed: one ERROR frame with a registry code (UNKNOWN_COMMAND, INVALID_PARAMS,
    HARDWARE_ERROR, TIMEOUT, SHUTTING_DOWN), the message and details."""

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})
