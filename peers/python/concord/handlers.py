"""A Client's handlers: registered per request or notification type, run on the handler threads; a
request's handler returns the response payload or raises RemoteError for an ERROR. PING is answered
with PONG and SHUTDOWN starts the drain (closing.py), whatever the handlers."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional, Tuple

from ._spec import CATALOG, message_info, proto
from .errors import ProtocolError
from .message import Message
from .client_errors import RemoteError
from .pending import _Incoming

E = proto.ErrorCode  # error names come from the generated registry, never written by hand
M = proto.MessageName  # message names come from the generated catalog, never written by hand
log = logging.getLogger("concord.client")

Handler = Callable[[Any, Message], Any]


class _Handlers:
    """Runs the handlers of the broker's requests and notifications.
    A part of Client: the handler table and the thread pool are set in Client.__init__."""

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
