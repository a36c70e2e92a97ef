"""The receiving half of a Client: the reader thread's loop (framing faults answered with ERROR and the
connection ended), decoding with the negotiated encodings, and the dispatch of each message by its
catalog kind: answers to the client's open requests here, requests and notifications to the handlers."""
from __future__ import annotations

import logging
from typing import List

from ._spec import CATALOG, proto, reaches_client
from .errors import ProtocolError
from .message import Message, accepted_encodings, decode_message

E = proto.ErrorCode  # error names come from the generated registry, never written by hand
M = proto.MessageName  # message names come from the generated catalog, never written by hand
MessageType = proto.MessageType
log = logging.getLogger("concord.client")


class _Receiving:
    """Reads, decodes and dispatches what the broker sends.
    A part of Client, run on its reader thread; its state is set in Client.__init__."""

    def _read_loop(self, early: List[bytes]) -> None:
        try:
            for item in early:
                if self._faulted:
                    break
                if isinstance(item, ProtocolError):  # a framing fault that came with INIT_ACK
                    log.warning("framing fault from the broker; closing: %s", item.message)
                    self._send_error(item.code, item.message, details=item.details)
                    self._end_after_fault()
                    break
                self._on_body(item)
            while True:
                try:
                    chunk = self.sock.recv(1 << 16)
                except OSError:
                    break
                if not chunk:
                    if self._decoder.mid_frame:
                        log.warning("stream ended inside a frame; partial frame discarded (FRM-7)")
                    break
                if self._faulted:
                    continue  # after a closing fault: wait for the peer's close, ignore its bytes
                try:
                    bodies = self._decoder.push(chunk)
                except ProtocolError as fault:
                    for body in fault.frames_before:
                        self._on_body(body)
                        if self._faulted:
                            break
                    if not self._faulted:
                        log.warning("framing fault from the broker; closing: %s", fault.message)
                        self._send_error(fault.code, fault.message, details=fault.details)
                        self._end_after_fault()
                    continue
                for body in bodies:
                    self._on_body(body)
                    if self._faulted:
                        break
        except Exception:  # pragma: no cover - a bug must not leave waiters hanging
            log.exception("receive loop failed")
        finally:
            self._on_connection_lost()

    def _on_body(self, body: bytes) -> None:
        try:
            m = decode_message(body, encodings=accepted_encodings(self.encoding))
        except ProtocolError as e:
            is_error = len(body) > 0 and body[0] == MessageType.ERROR
            log.warning("%s from the broker: %s %s", "faulty ERROR (not answered, ERR-6)" if is_error else "faulty frame",
                        e.code, e.message)
            if not is_error:
                self._send_error(e.code, e.message, re=e.frame_id, details=e.details)
            if e.closes:
                if is_error:
                    self._faulted = True
                    self._destroy()
                else:
                    self._end_after_fault()
            return
        try:
            self._dispatch(m)
        except Exception:
            log.exception("handling %s failed", m.name)

    def _dispatch(self, m: Message) -> None:
        info = CATALOG[m.type]
        if not reaches_client(info):
            self._answer_error(m, E.UNEXPECTED_MESSAGE, f"{m.name} never travels from broker to client (REQ-6)")
            return
        if info.kind in ("response", "error"):
            self._on_answer(m)
        elif info.kind == "request":
            self._on_request(m)
        else:
            self._on_notification(m)

    def _on_answer(self, m: Message) -> None:
        re = m.header.get("re")
        with self._lock:
            p = self._pending.get(re) if isinstance(re, str) else None
            if p is not None and (m.name == M.ERROR or m.name == p.expected):
                del self._pending[re]
                p.answer = m
                p.event.set()
                self._idle.notify_all()
                return
            late = isinstance(re, str) and re in self._late
        if p is not None:
            self._answer_error(m, E.UNEXPECTED_MESSAGE, f"{m.name} is not the response to request {re}")
            return
        if late:
            log.debug("late answer discarded (REQ-16): %s re=%s", m.name, re)
            return
        if m.name == M.ERROR:
            log.warning("ERROR from the broker (re=%s): %s", re, m.payload)  # never answered (ERR-6)
            return
        self._answer_error(m, E.UNEXPECTED_MESSAGE, f"{m.name} answers no open request (REQ-5)")
