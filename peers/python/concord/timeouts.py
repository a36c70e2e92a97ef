"""The timeout of a request (REQ-14): the payload's own, else the catalog's timeout_ms of the type, else request_timeout_ms."""
from __future__ import annotations

from typing import Any, Optional

from ._spec import message_info, proto

M = proto.MessageName
#: SERVICE_DISPATCH defaults (REG-5, REG-6) from the spec.
DISPATCH_TIMEOUT_MS = proto.DISPATCH_TIMEOUT_MS
DISPATCH_RETRIES = proto.DISPATCH_MAX_RETRIES


def request_timeout_s(type_name: str, payload: Any, default_ms: Optional[int] = None) -> float:
    """REQ-14: the payload's own timeout (BUS_QUERY, SERVICE_DISPATCH), else the catalog's, else request_timeout_ms."""
    p = payload if isinstance(payload, dict) else {}
    own = p.get("timeout_ms") if isinstance(p.get("timeout_ms"), (int, float)) and p.get("timeout_ms", 0) > 0 else None
    ms: Optional[float] = None
    if type_name == M.BUS_QUERY:
        ms = own
    elif type_name == M.SERVICE_DISPATCH:
        retries = p.get("max_retries") if isinstance(p.get("max_retries"), int) else DISPATCH_RETRIES
        ms = (retries + 1) * (own or DISPATCH_TIMEOUT_MS) + sum(proto.dispatch_backoff_ms(r) for r in range(1, retries + 1))
    if ms is None:
        ms = default_ms or message_info(type_name).timeout_ms or proto.REQUEST_TIMEOUT_MS
    return ms / 1000.0
