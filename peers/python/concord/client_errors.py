"""The client's errors: an ERROR answering a request, a request timeout, a lost connection."""
from __future__ import annotations

import enum
from typing import Any, Dict, Optional

from ._spec import proto
from .errors import registry_definite

E = proto.ErrorCode


class RemoteError(Exception):
    """An ERROR answering a request (or a local failure reported the same way)."""

    def __init__(self, code: str, message: str, definite: Optional[bool] = None, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(f"{code.value if isinstance(code, enum.Enum) else code}: {message}")
        self.code = code.value if isinstance(code, enum.Enum) else str(code)  # str() of a str Enum is 'ErrorCode.X'
        self.message = message
        self.definite = registry_definite(code) if definite is None else bool(definite)
        self.details = dict(details or {})

    def to_payload(self) -> Dict[str, Any]:
        p: Dict[str, Any] = {"code": self.code, "message": self.message[:proto.ERROR_MESSAGE_MAX_LENGTH], "definite": self.definite}
        if self.details:
            p["details"] = self.details
        return p


class RequestTimeout(RemoteError):
    """No answer within the request's timeout (definite false: the peer may have acted)."""

    def __init__(self, type_name: str, timeout_s: float) -> None:
        super().__init__(E.TIMEOUT, f"{type_name} got no answer within {timeout_s:g} s", False,
                         {"timeout_ms": int(round(timeout_s * 1000))})


class ConnectionClosed(RemoteError):
    """The connection is closed or was lost (definite when the request was never sent)."""

    def __init__(self, message: str, definite: bool) -> None:
        super().__init__(E.PEER_GONE, message, definite)
