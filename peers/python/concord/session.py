"""What a broker forgets when a connection closes (HS-19) and a reconnecting client restores (HS-24):
bus subscriptions, bus handlers and registered services, recorded as the broker accepts them.

The application keeps the subscription ids it was given: after a restore, BUS_UNSUBSCRIBE is
translated to the new id and each BUS_EVENT back to the original one.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._spec import proto
from .client_errors import ConnectionClosed, RemoteError, RequestTimeout

M = proto.MessageName


@dataclass
class _Subscription:
    event_type: str
    current_id: str


#: A restoration the broker refused: (type name, the request's payload, the error).
RestoreFailure = Tuple[str, Any, Exception]


class SessionRecord:
    """The subscriptions, bus handlers and services one client holds on its broker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: Dict[str, _Subscription] = {}  # original id -> current
        self._handlers: Dict[str, Dict[str, Any]] = {}  # message_type -> BUS_REGISTER_HANDLER payload
        self._services: Dict[str, Dict[str, Any]] = {}  # service name -> SERVICE_REGISTER payload

    def outgoing(self, name: str, payload: Any) -> Any:
        """The payload to send for `name`: an unsubscription names the subscription's current id."""
        if name == M.BUS_UNSUBSCRIBE and isinstance(payload, dict):
            with self._lock:
                sub = self._subscriptions.get(payload.get("subscription_id"))  # type: ignore[arg-type]
            if sub is not None:
                return {**payload, "subscription_id": sub.current_id}
        return payload

    def accepted(self, name: str, payload: Any, answer: Any) -> None:
        """Records a request the broker accepted (`payload` as the application gave it)."""
        if not isinstance(payload, dict):
            return
        with self._lock:
            if name == M.BUS_SUBSCRIBE and isinstance(answer, dict):
                sid = answer["subscription_id"]
                self._subscriptions[sid] = _Subscription(payload["event_type"], sid)
            elif name == M.BUS_UNSUBSCRIBE:
                self._subscriptions.pop(payload.get("subscription_id"), None)  # type: ignore[arg-type]
            elif name == M.BUS_REGISTER_HANDLER:
                self._handlers[payload["message_type"]] = dict(payload)
            elif name == M.BUS_UNREGISTER_HANDLER:
                self._handlers.pop(payload.get("message_type"), None)  # type: ignore[arg-type]
            elif name == M.SERVICE_REGISTER:
                self._services[payload["service"]["name"]] = dict(payload)
            elif name == M.SERVICE_UNREGISTER:
                self._services.pop(payload.get("name"), None)  # type: ignore[arg-type]

    def incoming(self, name: str, payload: Any) -> Any:
        """The payload the application sees: a BUS_EVENT names the subscription id it was given."""
        if name != M.BUS_EVENT or not isinstance(payload, dict):
            return payload
        current = payload.get("subscription_id")
        with self._lock:
            for original, sub in self._subscriptions.items():
                if sub.current_id == current:
                    return {**payload, "subscription_id": original}
        return payload

    def restore(self, request: Callable[[str, Any], Any]) -> List[RestoreFailure]:
        """Replays every record on a new connection through `request(name, payload)`; returns what
        the broker refused (each is dropped from the record, so it is reported once)."""
        with self._lock:
            services = list(self._services.items())
            handlers = list(self._handlers.items())
            subscriptions = list(self._subscriptions.items())
        failures: List[RestoreFailure] = []
        for name, payload in services:
            if not self._replay(request, M.SERVICE_REGISTER, payload, failures):
                with self._lock:
                    self._services.pop(name, None)
        for message_type, payload in handlers:
            if not self._replay(request, M.BUS_REGISTER_HANDLER, payload, failures):
                with self._lock:
                    self._handlers.pop(message_type, None)
        for original, sub in subscriptions:
            payload = {"event_type": sub.event_type}
            answer = self._replay(request, M.BUS_SUBSCRIBE, payload, failures)
            with self._lock:
                if answer is None:
                    self._subscriptions.pop(original, None)
                elif original in self._subscriptions:
                    self._subscriptions[original].current_id = answer["subscription_id"]
        return failures

    @staticmethod
    def _replay(request: Callable[[str, Any], Any], name: str, payload: Any, failures: List[RestoreFailure]) -> Optional[Any]:
        try:
            answer = request(name, payload)
            return answer if answer is not None else {}
        except RemoteError as e:  # the broker refused: reported to the application, never dropped silently (HS-24)
            if isinstance(e, (ConnectionClosed, RequestTimeout)):
                raise  # lost again or timed out: the record is kept for the next restore
            failures.append((name, payload, e))
            return None
