"""How a Client ends (section 6): close() sends SHUTDOWN and waits for SHUTDOWN_ACK; the broker's
SHUTDOWN is drained (HS-14, HS-15) and acknowledged; a lost connection fails the open requests; the
client is finalized once, whichever came first."""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, Optional

from ._spec import proto
from .message import Message
from .client_errors import ConnectionClosed, RequestTimeout
from .connection import END_GRACE_S
from .pending import _Pending

E = proto.ErrorCode  # error names come from the generated registry, never written by hand
M = proto.MessageName  # message names come from the generated catalog, never written by hand
log = logging.getLogger("concord.client")

#: Extra time allowed for SHUTDOWN_ACK beyond the drain the peer was given.
SHUTDOWN_ACK_GRACE_S = 1.0


class _Closing:
    """Closes the client gracefully, answers the broker's SHUTDOWN, and finalizes it once.
    A part of Client: the flags and waits of closing are set in Client.__init__."""

    def close(self, reason: Optional[str] = None, drain_ms: Optional[int] = None) -> None:
        """Graceful close: SHUTDOWN, requests from the broker answered until SHUTDOWN_ACK (at most
        drain_ms plus a second), then the connection closes."""
        remote = self._remote_shutdown
        if remote is not None:
            remote.join()
            return
        if self.closed.is_set():
            return
        with self._lock:
            if self._stopping:
                already = True
            else:
                already = False
                self._stopping = True
        if already:
            self.closed.wait(((drain_ms or self.shutdown_drain_ms) / 1000.0) + SHUTDOWN_ACK_GRACE_S + END_GRACE_S)
            return
        drain = self.shutdown_drain_ms if drain_ms is None else drain_ms
        payload: Dict[str, Any] = {"drain_ms": drain}
        if reason is not None:
            payload["reason"] = reason
        if self._open:
            id_ = self._next_id()
            p = _Pending(M.SHUTDOWN, M.SHUTDOWN_ACK)
            with self._lock:
                self._pending[id_] = p
            try:
                self._write(self._encode(M.SHUTDOWN, {"id": id_}, payload))
                if p.event.wait(drain / 1000.0 + SHUTDOWN_ACK_GRACE_S) and p.answer is not None:
                    log.info("SHUTDOWN acknowledged: %s", p.answer.payload)
                else:
                    log.warning("no SHUTDOWN_ACK")
            except Exception as e:  # the connection went away meanwhile
                log.warning("SHUTDOWN failed: %s", e)
            finally:
                with self._lock:
                    self._pending.pop(id_, None)
        self._end()
        self._finalize("closed")

    def _on_shutdown(self, m: Message) -> None:
        """HS-14, HS-15: drain, then SHUTDOWN_ACK, then close."""
        requested = m.payload.get("drain_ms") if isinstance(m.payload, dict) else None
        drain_ms = min(requested if isinstance(requested, (int, float)) else float("inf"), self.shutdown_drain_ms)
        log.info("broker sent SHUTDOWN; draining up to %s ms", drain_ms)
        deadline = time.monotonic() + drain_ms / 1000.0
        with self._lock:
            self._stopping = True
            before = len(self._incoming)
            while (self._incoming or self._pending) and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            still_open = list(self._incoming.items())
            for _id, entry in still_open:
                entry.answered = True
            self._incoming.clear()
            pending = list(self._pending.values())
            self._pending.clear()
        for id_, _entry in still_open:
            self._send_error(E.TIMEOUT, "request still open when the shutdown drain ended (HS-14)", re=id_,
                             details={"timeout_ms": int(drain_ms)})
        for p in pending:
            p.error = RequestTimeout(p.type_name, drain_ms / 1000.0)
            p.event.set()
        timed_out = len(still_open)
        try:
            self._write(self._encode(M.SHUTDOWN_ACK, {"id": self._next_id(), "re": m.header["id"]},
                                     {"drained": max(0, before - timed_out), "timed_out": timed_out}))
        except Exception as e:
            log.warning("could not send SHUTDOWN_ACK: %s", e)
        self._end()
        self._finalize("shutdown")

    def _on_connection_lost(self) -> None:
        with self._wlock:
            self._open = False
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
            self._idle.notify_all()
        for p in pending:
            p.error = ConnectionClosed(f"connection lost before {p.type_name} was answered", False)
            p.event.set()
        try:
            self.sock.close()
        except OSError:
            pass
        if not self._stopping:  # close() and the broker's SHUTDOWN finish the client themselves
            self._finalize("connection-lost")

    def _finalize(self, reason: str) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.close_reason = reason
            self._stopping = True
            self.closed.set()
        self._executor.shutdown(wait=False)
        log.info("closed (%s)", reason)
