"""The outgoing half of a Client's connection: request ids, frames checked against the broker's
max_frame, writes under one lock, ERRORs and answers to the broker's requests (routed answers go back
to their src), and the ways the socket ends (half-close, a bounded wait for the peer, close)."""
from __future__ import annotations

import logging
import socket
import threading
from typing import Any, Dict, Optional

from ._spec import proto
from .errors import ProtocolError, registry_definite
from .message import Message, encode_message_frame
from .client_errors import ConnectionClosed

E = proto.ErrorCode  # error names come from the generated registry, never written by hand
M = proto.MessageName  # message names come from the generated catalog, never written by hand
log = logging.getLogger("concord.client")

#: Bound of the wait for the peer's close after our half-close.
END_GRACE_S = 2.0


class _Connection:
    """Writes frames and ends the socket.
    A part of Client: the state it uses is set in Client.__init__ (client.py)."""

    def _next_id(self) -> str:
        with self._lock:
            self._seq += 1
            n = self._seq
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        s = ""
        while True:
            n, r = divmod(n, 36)
            s = digits[r] + s
            if n == 0:
                return s

    def _encode(self, type_name: str, header: Dict[str, Any], payload: Any) -> bytes:
        frame = encode_message_frame(type_name, header, payload, "json")
        if len(frame) - 4 > self.peer_max_frame:
            raise ProtocolError(E.FRAME_TOO_LARGE, f"{type_name}: frame body of {len(frame) - 4} bytes exceeds the broker's max_frame {self.peer_max_frame} (FRM-4)",
                                limit=self.peer_max_frame)
        return frame

    def _write(self, frame: bytes) -> None:
        with self._wlock:
            if not self._open:
                raise ConnectionClosed("the connection is closed", True)
            try:
                self.sock.sendall(frame)
            except OSError as e:
                raise ConnectionClosed(f"write failed: {e}", False) from e

    def _send_error(self, code: str, message: str, re: Optional[str] = None, dst: Optional[str] = None,
                    details: Optional[Dict[str, Any]] = None, definite: Optional[bool] = None) -> None:
        header: Dict[str, Any] = {"id": self._next_id()}
        if re is not None:
            header["re"] = re
        if dst is not None:
            header["dst"] = dst
        payload: Dict[str, Any] = {"code": code, "message": message[:proto.ERROR_MESSAGE_MAX_LENGTH], "definite": registry_definite(code) if definite is None else definite}
        if details:
            payload["details"] = details
        try:
            try:
                frame = encode_message_frame(M.ERROR, header, payload)
            except (ProtocolError, TypeError, ValueError):
                payload.pop("details", None)  # details that do not encode are dropped rather than the answer
                frame = encode_message_frame(M.ERROR, header, payload)
            self._write(frame)
        except Exception as e:
            log.warning("could not send ERROR %s: %s", code, e)

    @staticmethod
    def _answer_header(request: Message, id_: str) -> Dict[str, Any]:
        h: Dict[str, Any] = {"id": id_, "re": request.header["id"]}
        if isinstance(request.header.get("src"), str):
            h["dst"] = request.header["src"]  # a routed answer finds its way back
        return h

    def _answer(self, request: Message, type_name: str, payload: Any) -> None:
        try:
            frame = self._encode(type_name, self._answer_header(request, self._next_id()), payload)
        except Exception as e:
            log.error("invalid %s answering %s: %s", type_name, request.name, e)
            self._answer_error(request, E.INTERNAL, f"the handler's {type_name} is invalid: {e}")
            return
        try:
            self._write(frame)
        except Exception as e:
            log.warning("could not send %s: %s", type_name, e)

    def _answer_error(self, request: Message, code: str, message: str, definite: Optional[bool] = None,
                      details: Optional[Dict[str, Any]] = None) -> None:
        src = request.header.get("src")
        self._send_error(code, message, re=request.header["id"], dst=src if isinstance(src, str) else None,
                         details=details, definite=definite)

    def _half_close(self) -> None:
        with self._wlock:
            if not self._open:
                return
            self._open = False
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _end(self) -> None:
        """Half-closes after what was written, waits (bounded) for the peer to close, then closes."""
        self._half_close()
        if threading.current_thread() is not self._reader:
            self._reader.join(END_GRACE_S)
        self._destroy()

    def _end_after_fault(self) -> None:
        self._faulted = True
        self._half_close()
        timer = threading.Timer(END_GRACE_S, self._destroy)
        timer.daemon = True
        timer.start()

    def _destroy(self) -> None:
        with self._wlock:
            self._open = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
