"""A client that survives a broker restart (HS-23 .. HS-25): when its connection is lost it reconnects
with backoff, registers its handlers again, restores its bus subscriptions, bus handlers and services,
and tells the application through `on_connection(event, info)`.

    client = connect_reconnecting("127.0.0.1", 9999, "python-1", on_connection=print)
    client.on("BUS_EVENT", on_event)
    client.request("BUS_SUBSCRIBE", {"event_type": "trace.ready"})   # restored after each reconnect

Events: "lost" (info: error), "restored" (info: attempts, failures: the restorations the broker
refused, each (type, payload, error)), "gave-up" (info: error; the client is closed).
Requests in flight when the connection drops fail with ConnectionClosed (PEER_GONE, definite false);
a request started while reconnecting waits for the connection within its own timeout, then fails with
ConnectionClosed (PEER_GONE, definite true).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._spec import message_info, proto
from .backoff import Backoff, _backoff_delay
from .client import Client, Handler, connect
from .client_errors import ConnectionClosed, RemoteError
from .message import Message
from .session import SessionRecord
from .timeouts import request_timeout_s

log = logging.getLogger("concord.reconnect")
E = proto.ErrorCode
#: HS-23: (first wait, longest wait) in seconds, doubling with +-20 % jitter.
RECONNECT_BACKOFF: Tuple[float, float] = (proto.RECONNECT_BACKOFF_BASE_MS / 1000.0, proto.RECONNECT_BACKOFF_MAX_MS / 1000.0)

ConnectionListener = Callable[[str, Dict[str, Any]], None]


class ReconnectingClient:
    """The API of Client (on, off, request, request_message, send, ping, close) over a connection
    that is replaced after each loss. Build it with connect_reconnecting()."""

    def __init__(self, connect_kwargs: Dict[str, Any], on_connection: Optional[ConnectionListener],
                 backoff: Backoff, max_attempts: Optional[int]) -> None:
        self._kwargs = connect_kwargs
        self._listener = on_connection
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._session = SessionRecord()
        self._handlers: List[Tuple[str, Handler, Handler]] = []  # (type, the application's, the installed one)
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._client: Optional[Client] = None
        self._stopping = False
        self.closed = threading.Event()
        self.close_reason: Optional[str] = None
        self.reconnects = 0
        self._stop_wait = threading.Event()

    # ---- the Client API -------------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return str(self._kwargs["client_id"])

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._client is not None

    def on(self, type_: Any, fn: Handler) -> "ReconnectingClient":
        name = message_info(type_).name
        installed = self._wrap(name, fn)
        with self._lock:
            self._handlers.append((name, fn, installed))
            client = self._client
        if client is not None:
            client.on(name, installed)
        return self

    def off(self, type_: Any, fn: Optional[Handler] = None) -> None:
        name = message_info(type_).name
        with self._lock:
            gone = [h for h in self._handlers if h[0] == name and (fn is None or h[1] is fn)]
            self._handlers = [h for h in self._handlers if h not in gone]
            client = self._client
        if client is not None:
            for _, _, installed in gone:
                client.off(name, installed)

    def request_message(self, type_: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Message:
        info = message_info(type_)
        wait_s = timeout if timeout is not None else request_timeout_s(info.name, payload, self._kwargs.get("request_timeout_ms"))
        deadline = time.monotonic() + wait_s
        client = self._await_client(info.name, deadline)
        answer = client.request_message(info.name, self._session.outgoing(info.name, payload), dst, max(0.0, deadline - time.monotonic()))
        self._session.accepted(info.name, payload, answer.payload)
        return answer

    def request(self, type_: Any, payload: Any = None, dst: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        return self.request_message(type_, payload, dst, timeout).payload

    def send(self, type_: Any, payload: Any = None, dst: Optional[str] = None, re: Optional[str] = None) -> str:
        """Sends at once on the current connection; while reconnecting, raises ConnectionClosed (definite)."""
        with self._lock:
            client = self._client
        if client is None:
            raise ConnectionClosed(f"reconnecting; {message_info(type_).name} not sent", True)
        return client.send(type_, payload, dst, re)

    def ping(self, timeout: Optional[float] = None) -> float:
        start = time.monotonic()
        self.request(proto.MessageName.PING, None, timeout=timeout)
        return time.monotonic() - start

    def close(self, reason: Optional[str] = None, drain_ms: Optional[int] = None) -> None:
        with self._lock:
            self._stopping = True
            client = self._client
            self._ready.notify_all()
        self._stop_wait.set()
        if client is not None:
            client.close(reason, drain_ms)
        self._finalize("closed")

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        return self.closed.wait(timeout)

    def __enter__(self) -> "ReconnectingClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- connection management ------------------------------------------------------------------

    def _wrap(self, name: str, fn: Handler) -> Handler:
        if name != proto.MessageName.BUS_EVENT:
            return fn
        session = self._session
        return lambda payload, message: fn(session.incoming(name, payload), message)

    def _await_client(self, name: str, deadline: float) -> Client:
        with self._lock:
            while self._client is None and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            if self._client is None:
                raise ConnectionClosed(f"not connected; {name} not sent", True)
            return self._client

    def _open(self) -> Client:
        return connect(**{**self._kwargs, "retries": 0})

    def _attach(self, client: Client) -> None:
        with self._lock:
            handlers = list(self._handlers)
        for name, _, installed in handlers:
            client.on(name, installed)
        watcher = threading.Thread(target=self._watch, args=(client,), name="concord-reconnect", daemon=True)
        watcher.start()

    def _publish(self, client: Client) -> None:
        with self._lock:
            if client.closed.is_set():
                return  # lost again already: its watcher reconnects
            self._client = client
            self._ready.notify_all()

    def _watch(self, client: Client) -> None:
        client.closed.wait()
        with self._lock:
            if self._client is client:
                self._client = None
            stopping = self._stopping
        if stopping:
            return
        if client.close_reason != "connection-lost":  # the broker's SHUTDOWN ends the client (HS-12)
            self._finalize(client.close_reason or "closed")
            return
        self._tell("lost", {"error": ConnectionClosed("the connection to the broker was lost", False)})
        self._reconnect()

    def _reconnect(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            if self._stop_wait.wait(_backoff_delay(self._backoff, attempt)):
                return
            try:
                client = self._open()
            except RemoteError as e:
                if e.code != E.DUPLICATE_CLIENT_ID:  # the old connection's id not yet released (HS-19) is retried
                    return self._give_up(e)
                error: Exception = e
            except OSError as e:
                error = e
            else:
                break
            log.info("reconnect attempt %d failed: %s", attempt, error)
            if self._max_attempts is not None and attempt >= self._max_attempts:
                return self._give_up(error)
        if self._stopping:
            client.close()
            return
        self._attach(client)
        try:
            failures = self._session.restore(lambda name, payload: client.request(name, payload))
        except RemoteError as e:  # lost again (its watcher reconnects) or timed out (start over)
            log.warning("restore failed: %s", e)
            client._destroy()
            return
        self.reconnects += 1
        self._publish(client)
        self._tell("restored", {"attempts": attempt, "failures": failures})

    def _give_up(self, error: Exception) -> None:
        log.error("reconnect failed: %s", error)
        self._tell("gave-up", {"error": error})
        self._finalize("connection-lost")

    def _finalize(self, reason: str) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self._stopping = True
            self.close_reason = reason
            self.closed.set()
            self._ready.notify_all()
        self._stop_wait.set()

    def _tell(self, event: str, info: Dict[str, Any]) -> None:
        if self._listener is None:
            return
        try:
            self._listener(event, info)
        except Exception:  # a failing listener never breaks the client
            log.exception("on_connection listener failed")


def connect_reconnecting(host: str = "127.0.0.1", port: int = 9999, client_id: Optional[str] = None, *,
                         on_connection: Optional[ConnectionListener] = None, backoff: Backoff = RECONNECT_BACKOFF,
                         max_attempts: Optional[int] = None, **connect_kwargs: Any) -> ReconnectingClient:
    """Connects as connect() does (same keyword arguments, `retries` for the first connection only),
    then reconnects after each loss, waiting backoff(attempt) seconds before each attempt, at most
    `max_attempts` attempts per loss (None: until close())."""
    import os

    kwargs = {"host": host, "port": port, "client_id": client_id or f"python-{os.getpid()}", **connect_kwargs}
    rc = ReconnectingClient(kwargs, on_connection, backoff, max_attempts)
    first = connect(**kwargs)
    rc._attach(first)
    rc._publish(first)
    return rc
