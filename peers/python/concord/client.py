"""A Concord client over TCP: INIT/INIT_ACK with retries, request() with timeouts, handlers per
type, a background receive thread, thread-safe sends, automatic PONG, ERRORs for faulty frames,
and graceful close with SHUTDOWN/SHUTDOWN_ACK in both directions (section 6).

    client = connect("127.0.0.1", 9999, "python-1")
    client.on("REASONING_REQUEST", lambda payload, message: {...})   # answered with REASONING_RESPONSE
    result = client.request("REASONING_REQUEST", {...}, dst="cpp-teacher-1")
    client.close()

The client offers CBOR, then JSON (CBOR where cbor2, Debian python3-cbor2, is installed) and reads
whichever INIT_ACK allows; it writes JSON, which every peer accepts (ENC-1), so its requests also
reach peers that did not negotiate CBOR (REQ-10).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ._spec import CATALOG, message_info, proto
from .envelope import ENCODINGS
from .errors import ProtocolError, registry_definite
from .framing import MAX_FRAME, FrameDecoder
from .message import CLIENT_ENCODINGS, Message, accepted_encodings, decode_message, encode_message_frame
from .client_errors import ConnectionClosed, RemoteError, RequestTimeout
from .backoff import Backoff, _backoff_delay
from .timeouts import DISPATCH_RETRIES, DISPATCH_TIMEOUT_MS, request_timeout_s
from .pending import _Incoming, _Pending
from .handshake import _open_once

__all__ = ["Client", "connect", "RemoteError", "RequestTimeout", "ConnectionClosed", "request_timeout_s", "Backoff",
           "DISPATCH_TIMEOUT_MS", "DISPATCH_RETRIES", "PROTOCOL_VERSION", "MessageType"]

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

log = logging.getLogger("concord.client")

MessageType = proto.MessageType
PROTOCOL_VERSION = proto.PROTOCOL_VERSION
#: Extra time allowed for SHUTDOWN_ACK beyond the drain the peer was given.
SHUTDOWN_ACK_GRACE_S = 1.0
#: Bound of the wait for the peer's close after our half-close.
END_GRACE_S = 2.0
M = proto.MessageName  # message names come from the generated catalog, never written by hand

Handler = Callable[[Any, Message], Any]


class Client:
    """A connected client; build it with connect()."""

    def __init__(self, sock: socket.socket, ack: Dict[str, Any], client_id: str, decoder: FrameDecoder,
                 early: List[Any], seq: int, request_timeout_ms: Optional[int] = None, handler_threads: int = 8,
                 shutdown_drain_ms: int = proto.SHUTDOWN_DRAIN_MS) -> None:
        self.sock = sock
        self.ack = ack
        self.client_id = client_id
        self.broker_id: str = ack.get("broker_id", "")
        self.encoding: str = ack.get("encoding", "json")
        self.peer_max_frame: int = int(ack.get("max_frame", proto.LIMIT_MIN["max_frame"]))
        self.request_timeout_ms = request_timeout_ms
        self.shutdown_drain_ms = shutdown_drain_ms
        self._decoder = decoder
        self._seq = seq
        self._lock = threading.RLock()
        self._wlock = threading.Lock()
        self._pending: Dict[str, _Pending] = {}
        self._late: Set[str] = set()
        self._incoming: Dict[str, _Incoming] = {}
        self._handlers: Dict[str, List[Handler]] = {}
        self._idle = threading.Condition(self._lock)
        self._in_flight = threading.BoundedSemaphore(max(1, int(ack.get("max_in_flight", proto.MAX_IN_FLIGHT))))
        self._executor = ThreadPoolExecutor(max_workers=handler_threads, thread_name_prefix="concord-handler")
        self._open = True  # we may still write
        self._faulted = False  # a closing fault: ignore further input
        self._stopping = False
        self._remote_shutdown: Optional[threading.Thread] = None
        self.closed = threading.Event()
        self.close_reason: Optional[str] = None
        self._reader = threading.Thread(target=self._read_loop, args=(early,), name="concord-reader", daemon=True)
        self._reader.start()

    # ---- public API -----------------------------------------------------------------------------

    def on(self, type_: Any, fn: Handler) -> "Client":
        """Registers a handler for a request type (its return value is the response payload; raise
        RemoteError to answer with an ERROR) or a notification type (several allowed)."""
        name = message_info(type_).name
        with self._lock:
            self._handlers.setdefault(name, []).append(fn)
        return self

    def off(self, type_: Any, fn: Optional[Handler] = None) -> None:
        name = message_info(type_).name
        with self._lock:
            if fn is None:
                self._handlers.pop(name, None)
            elif fn in self._handlers.get(name, []):
                self._handlers[name].remove(fn)

    def request_message(self, type_: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Message:
        """Sends a request and returns the whole response Message; raises RemoteError for an ERROR."""
        info = message_info(type_)
        if info.kind != "request" or not info.response:
            raise TypeError(f"{info.name} is not a request type")
        if self.closed.is_set() or not self._open:
            raise ConnectionClosed(f"the connection is closed; {info.name} not sent", True)
        if self._stopping:
            raise RemoteError(E.SHUTTING_DOWN, f"the client is shutting down; {info.name} not sent", True)
        wait_s = timeout if timeout is not None else request_timeout_s(info.name, payload, self.request_timeout_ms)
        deadline = time.monotonic() + wait_s
        if not self._in_flight.acquire(timeout=wait_s):
            raise RequestTimeout(info.name, wait_s)
        try:
            id_ = self._next_id()
            header: Dict[str, Any] = {"id": id_}
            if dst is not None:
                header["dst"] = dst
            frame = self._encode(info.name, header, payload)
            p = _Pending(info.name, info.response)
            with self._lock:
                self._pending[id_] = p
            try:
                self._write(frame)
            except Exception:
                with self._lock:
                    self._pending.pop(id_, None)
                raise
            if not p.event.wait(max(0.0, deadline - time.monotonic())):
                with self._lock:
                    if self._pending.pop(id_, None) is not None:
                        self._late.add(id_)  # a late answer is discarded (REQ-16)
                        self._idle.notify_all()
                if not p.event.is_set():
                    raise RequestTimeout(info.name, wait_s)
            if p.error is not None:
                raise p.error
            m = p.answer
            assert m is not None
            if m.name == M.ERROR:
                e = m.payload
                raise RemoteError(e.get("code", E.INTERNAL), e.get("message", ""), e.get("definite", False), e.get("details"))
            return m
        finally:
            self._in_flight.release()

    def request(self, type_: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """Sends a request and returns the response payload; raises RemoteError (code, message, definite)."""
        return self.request_message(type_, payload, dst, timeout).payload

    def send(self, type_: Any, payload: Any = None, dst: Optional[str] = None, re: Optional[str] = None) -> str:
        """Sends one frame without waiting for an answer (a notification, typically); returns its id."""
        info = message_info(type_)
        if not self._open:
            raise ConnectionClosed(f"the connection is closed; {info.name} not sent", True)
        id_ = self._next_id()
        header: Dict[str, Any] = {"id": id_}
        if re is not None:
            header["re"] = re
        if dst is not None:
            header["dst"] = dst
        self._write(self._encode(info.name, header, payload))
        return id_

    def ping(self, timeout: Optional[float] = None) -> float:
        """Sends PING; returns the round trip in seconds."""
        start = time.monotonic()
        self.request(M.PING, None, timeout=timeout)
        return time.monotonic() - start

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

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self.closed.wait(timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- outgoing -------------------------------------------------------------------------------

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

    # ---- incoming -------------------------------------------------------------------------------

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
        if "broker-to-client" not in info.directions and "routed" not in info.directions:
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

    def _on_request(self, m: Message) -> None:
        if m.name == M.PING:
            self._answer(m, M.PONG, None)  # also while draining (HS-9)
            return
        if m.name == M.SHUTDOWN:
            with self._lock:
                if self._remote_shutdown is None:
                    self._remote_shutdown = threading.Thread(target=self._on_shutdown, args=(m,), name="concord-shutdown", daemon=True)
                    self._remote_shutdown.start()
                    return
            self._answer_error(m, E.SHUTTING_DOWN, "SHUTDOWN arrived after SHUTDOWN (HS-13)")
            return
        if self._stopping:
            self._answer_error(m, E.SHUTTING_DOWN, f"{m.name} arrived after SHUTDOWN (HS-13)")
            return
        with self._lock:
            handlers = list(self._handlers.get(m.name, []))
            if handlers:
                entry = _Incoming()
                self._incoming[m.header["id"]] = entry
        if not handlers:
            self._answer_error(m, E.UNSUPPORTED, f"no handler for {m.name} (ERR-8)")
            return
        self._executor.submit(self._run_handler, handlers[0], m, entry)

    def _run_handler(self, handler: Handler, m: Message, entry: _Incoming) -> None:
        response = CATALOG[m.type].response
        try:
            result = handler(m.payload, m)
            outcome: Tuple[str, Any] = ("ok", result)
        except RemoteError as e:
            outcome = ("error", (e.code, e.message, e.definite, e.details))
        except ProtocolError as e:
            outcome = ("error", (e.code, e.message, e.definite, e.details))
        except Exception as e:
            log.exception("%s handler failed", m.name)
            outcome = ("error", (E.INTERNAL, f"{type(e).__name__}: {e}", False, {}))
        with self._lock:
            if entry.answered:
                return  # the shutdown drain answered it with TIMEOUT
            entry.answered = True
            if self._incoming.get(m.header["id"]) is entry:
                del self._incoming[m.header["id"]]
            self._idle.notify_all()
        if outcome[0] == "ok":
            self._answer(m, response, outcome[1])
        else:
            code, message, definite, details = outcome[1]
            self._answer_error(m, code, message, definite, details or None)

    def _on_notification(self, m: Message) -> None:
        with self._lock:
            handlers = list(self._handlers.get(m.name, []))
        if not handlers:
            self._answer_error(m, E.UNSUPPORTED, f"no handler for {m.name} (ERR-8)")
            return
        for h in handlers:
            self._executor.submit(self._run_notification, h, m)

    @staticmethod
    def _run_notification(h: Handler, m: Message) -> None:
        try:
            h(m.payload, m)
        except Exception:
            log.exception("%s handler failed", m.name)

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

    # ---- closing --------------------------------------------------------------------------------

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


def connect(host: str = "127.0.0.1", port: int = 9999, client_id: Optional[str] = None, *, role: str = "client", language: str = "python",
            token: Optional[str] = None, retries: int = 5, backoff: Backoff = (0.1, 5.0), timeout: float = 10.0,
            request_timeout_ms: Optional[int] = None, name: str = "concord-python", version: str = "0.1.0",
            features: Tuple[str, ...] = (), max_frame: int = MAX_FRAME, handler_threads: int = 8) -> Client:
    """Connects and completes INIT/INIT_ACK. Refused connections, resets and DUPLICATE_CLIENT_ID
    (a broker may not have released the id yet) are retried up to `retries` times, waiting
    backoff(retry) seconds, or (initial, max) exponential with jitter. Other handshake ERRORs raise
    RemoteError at once."""
    import os

    cid = client_id or f"python-{os.getpid()}"
    init: Dict[str, Any] = {
        "client_id": cid, "language": language, "role": role, "protocol_version": PROTOCOL_VERSION,
        "encodings": list(CLIENT_ENCODINGS), "max_frame": max_frame, "name": name, "version": version,
        "features": list(features),
    }
    if token is not None:
        init["token"] = token
    attempt = 0
    while True:
        try:
            sock, ack, decoder, queued = _open_once(host, port, init, timeout)
            break
        except RemoteError as e:
            if e.code != E.DUPLICATE_CLIENT_ID or attempt >= retries:
                raise
        except (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, socket.timeout, TimeoutError, ConnectionError):
            if attempt >= retries:
                raise
        attempt += 1
        time.sleep(_backoff_delay(backoff, attempt))
    log.info("connected to %s (encoding %s)", ack.get("broker_id"), ack.get("encoding"))
    return Client(sock, ack, cid, decoder, queued, seq=1, request_timeout_ms=request_timeout_ms, handler_threads=handler_threads)


__all__ = ["Client", "connect", "RemoteError", "RequestTimeout", "ConnectionClosed", "request_timeout_s", "ENCODINGS"]
