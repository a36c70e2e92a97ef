"""The seed's client API (`IPCClient(client_id, language)`, connect, disconnect, send,
register_handler), as a thin layer over the reconnecting Concord client.

    from concord import IPCClient

    client = IPCClient("py-teacher-1", language="python", port=9999)
    if client.connect():
        client.register_handler("REASONING_REQUEST", lambda payload, message: {...})
        answer = client.request_reasoning({"encoding": ..., "context": "demo", "source": "python"}, dst="cpp-teacher-1")
        client.send_feedback({...}, dst="cpp-teacher-1")
        client.disconnect()

Unlike the seed's fire-and-forget send(), a request type (FEEDBACK, STATE_UPDATE, ...) is answered
(ACK or an ERROR): send() waits for that answer and returns its payload, and raises RemoteError for an
ERROR, so nothing is lost silently. The connection is restored after a broker restart (HS-23, HS-24).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from ._spec import message_info, proto
from .client import Handler
from .client_errors import RemoteError
from .reconnect import ConnectionListener, ReconnectingClient, connect_reconnecting

M = proto.MessageName
log = logging.getLogger("concord.ipc")


class IPCClient:
    """A client of the Concord broker under the seed's names."""

    def __init__(self, client_id: str, language: str = "python", host: str = "127.0.0.1", port: int = 9999, *,
                 token: Optional[str] = None, on_connection: Optional[ConnectionListener] = None,
                 request_timeout_ms: Optional[int] = None) -> None:
        self.client_id = client_id
        self.language = language
        self.host = host
        self.port = port
        self._token = token
        self._on_connection = on_connection
        self._request_timeout_ms = request_timeout_ms
        self._client: Optional[ReconnectingClient] = None
        self._handlers: Dict[str, List[Handler]] = {}

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def connect(self, retries: int = 5) -> bool:
        """Connects (retrying refused connections `retries` times with backoff); False when it cannot
        (the reason is logged), True when connected or already connected."""
        if self._client is not None and not self._client.closed.is_set():
            return True
        try:
            self._client = connect_reconnecting(self.host, self.port, self.client_id, language=self.language, retries=retries,
                                                token=self._token, on_connection=self._on_connection,
                                                request_timeout_ms=self._request_timeout_ms)
        except (OSError, RemoteError) as e:
            log.warning("connect to %s:%s failed: %s", self.host, self.port, e)
            return False
        for name, fns in self._handlers.items():
            for fn in fns:
                self._client.on(name, fn)
        return True

    def disconnect(self) -> None:
        """Closes gracefully (SHUTDOWN, drain, close); idempotent."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def register_handler(self, message_type: Any, handler: Handler) -> None:
        """`handler(payload, message)` for incoming `message_type`; for a request type its return value
        is the response payload (raise RemoteError to answer with an ERROR)."""
        name = message_info(message_type).name
        self._handlers.setdefault(name, []).append(handler)
        if self._client is not None:
            self._client.on(name, handler)

    def send(self, message_type: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """Sends one message: a request waits for its answer and returns its payload, a notification
        returns once written."""
        info = message_info(message_type)
        client = self._require()
        if info.kind == "request":
            return client.request(info.name, payload, dst=dst, timeout=timeout)
        client.send(info.name, payload, dst=dst)
        return None

    def request(self, message_type: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """Sends a request and returns the response payload; raises RemoteError for an ERROR."""
        return self._require().request(message_type, payload, dst=dst, timeout=timeout)

    # ---- typed helpers, one per seed message ----------------------------------------------------

    def request_reasoning(self, payload: Dict[str, Any], dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request(M.REASONING_REQUEST, payload, dst, timeout)

    def send_feedback(self, payload: Dict[str, Any], dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request(M.FEEDBACK, payload, dst, timeout)

    def send_state_update(self, payload: Dict[str, Any], dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request(M.STATE_UPDATE, payload, dst, timeout)

    def send_parameter_sync(self, payload: Dict[str, Any], dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request(M.PARAMETER_SYNC, payload, dst, timeout)

    def send_mtl_signal(self, payload: Dict[str, Any], dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request(M.MTL_COORDINATE, payload, dst, timeout)

    def _require(self) -> ReconnectingClient:
        if self._client is None:
            raise RemoteError(proto.ErrorCode.PEER_GONE, "not connected: call connect() first", True)
        return self._client

    def __enter__(self) -> "IPCClient":
        if not self.connect():
            raise ConnectionError(f"cannot connect to {self.host}:{self.port}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()


__all__ = ["IPCClient"]
