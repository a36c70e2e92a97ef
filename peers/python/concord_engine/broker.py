"""The engine attached to a broker under a client id; reconnects with backoff when the connection
is lost (ENG-16), until stopped."""
from __future__ import annotations

import logging
import threading
from typing import Optional

from concord.client import RemoteError, connect

from .core import Engine, EngineError
from .handler import ENGINE_REQUESTS, handle

log = logging.getLogger("concord_engine")

#: Attempts per (re)connection; with at most 1 s between them the engine waits about this many seconds.
CONNECT_RETRIES = 600


def serve_broker(engine: Engine, host: str, port: int, client_id: str, token: Optional[str], stop: threading.Event) -> int:
    def handler(name: str):
        def fn(payload, _message):
            try:
                return handle(engine, name, payload)
            except EngineError as e:
                raise RemoteError(e.code, e.message, True, e.details) from None
        return fn

    lock = threading.Lock()  # the client runs handlers on several threads; the engine state is one

    def locked(fn):
        def run(payload, message):
            with lock:
                return fn(payload, message)
        return run

    failures = 0  # consecutive failed connections (a handshake cut short by a restarting broker included), bounded
    while not stop.is_set():
        try:
            client = connect(host, port, client_id, role="engine", token=token, retries=CONNECT_RETRIES, backoff=(0.05, 1.0),
                             name="concord-python-engine", features=("engine",))
            failures = 0
        except Exception as e:  # noqa: BLE001 - every connection failure is retried alike
            log.error("cannot connect to %s:%s: %s", host, port, e)
            failures += 1
            if failures > 50:
                return 69
            stop.wait(0.2)
            continue
        for name in ENGINE_REQUESTS:
            client.on(name, locked(handler(name)))
        log.info("engine %s attached to %s:%s", client_id, host, port)
        while not stop.is_set() and not client.closed.wait(0.2):
            pass
        if stop.is_set():
            client.close("engine stopping")
            return 0
        log.warning("connection lost (%s); reconnecting", client.close_reason)
    return 0
