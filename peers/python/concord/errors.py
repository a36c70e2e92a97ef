"""ProtocolError: a fault with its registry code (spec/errors.json via the generated ERRORS)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ._spec import proto

ERRORS = proto.ERRORS
ErrorCode = proto.ErrorCode


def _name(code: Any) -> str:
    return code.value if isinstance(code, ErrorCode) else str(code)


def registry_definite(code: Any) -> bool:
    info = ERRORS.get(_name(code))
    return info.definite if info else False


def registry_closes(code: Any) -> bool:
    info = ERRORS.get(_name(code))
    return info.closes if info else False


class ProtocolError(Exception):
    """A protocol fault. `details` holds `path` (JSON pointer), `rule` and, where one applied, `limit`."""

    def __init__(self, code: Any, message: str, path: Optional[str] = None, rule: Optional[str] = None,
                 *, limit: Optional[int] = None, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code: str = _name(code)
        if self.code not in ERRORS:
            raise ValueError(f"ProtocolError: {self.code} is not in the error registry")
        self.message = message
        d: Dict[str, Any] = dict(details or {})
        if path is not None:
            d["path"] = path
        if rule is not None:
            d["rule"] = rule
        if limit is not None:
            d["limit"] = limit
        self.details = d
        #: The faulty frame's id when its header was readable: the ERROR's `re`.
        self.frame_id: Optional[str] = None
        #: For a framing fault: whole frames that preceded it in the same chunk.
        self.frames_before: list = []

    @property
    def path(self) -> Optional[str]:
        return self.details.get("path")

    @property
    def rule(self) -> Optional[str]:
        return self.details.get("rule")

    @property
    def definite(self) -> bool:
        return registry_definite(self.code)

    @property
    def closes(self) -> bool:
        return registry_closes(self.code)

    def to_payload(self) -> Dict[str, Any]:
        """The ERROR payload reporting this fault."""
        p: Dict[str, Any] = {"code": self.code, "message": self.message[:proto.ERROR_MESSAGE_MAX_LENGTH], "definite": self.definite}
        if self.details:
            p["details"] = dict(self.details)
        return p

    def __repr__(self) -> str:
        return f"ProtocolError({self.code!r}, {self.message!r}, details={self.details!r})"


def pointer(parent: str, key: Any) -> str:
    """Appends one RFC 6901 segment."""
    return parent + "/" + str(key).replace("~", "~0").replace("/", "~1")
