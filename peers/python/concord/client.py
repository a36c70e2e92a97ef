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
from typing import Any, Dict, List, Optional, Set, Tuple

from ._spec import message_info, proto
from .envelope import ENCODINGS
from .framing import MAX_FRAME, FrameDecoder
from .message import CLIENT_ENCODINGS, Message
from .client_errors import ConnectionClosed, RemoteError, RequestTimeout
from .backoff import Backoff, _backoff_delay
from .timeouts import DISPATCH_RETRIES, DISPATCH_TIMEOUT_MS, request_timeout_s
from .pending import _Incoming, _Pending
from .handshake import _open_once
# The Client's parts, one concern each, as the TypeScript client (reference/client/) is split.
from .connection import END_GRACE_S, _Connection  # noqa: F401 (END_GRACE_S: still importable from here)
from .incoming import _Receiving
from .handlers import Handler, _Handlers
from .closing import SHUTDOWN_ACK_GRACE_S, _Closing  # noqa: F401 (likewise)

__all__ = ["Client", "connect", "RemoteError", "RequestTimeout", "ConnectionClosed", "request_timeout_s", "Backoff",
           "DISPATCH_TIMEOUT_MS", "DISPATCH_RETRIES", "PROTOCOL_VERSION", "MessageType"]

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

log = logging.getLogger("concord.client")

MessageType = proto.MessageType
PROTOCOL_VERSION = proto.PROTOCOL_VERSION
M = proto.MessageName  # message names come from the generated catalog, never written by hand


class Client(_Connection, _Receiving, _Handlers, _Closing):
    """A connected client; build it with connect(). Its requests are here; writing and ending the
    socket in connection.py, reading and dispatch in incoming.py, handlers in handlers.py, SHUTDOWN
    both ways and the end of the client in closing.py."""

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

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self.closed.wait(timeout)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
