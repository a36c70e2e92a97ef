"""python3 peers/python/concord_instrument [--stdio | --port N | --broker HOST:PORT] [--seed N]

The Python instrument worker (spec section 17): on stdio (default) it is the child and client of its
parent; with --broker it is a client of a broker (--id NAME, --notify DST for its events, default
"*"); with --port it listens on 127.0.0.1 (--host H) and is the broker of one connection at a time.
Fault injection: --delay-ms N, --error-rate P, --drop-after N. Exit codes as in section 17.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys

if __package__ in (None, ""):  # run as a directory or file: make `concord` and this package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "concord_instrument"  # noqa: A001

from concord_instrument.model import InstrumentModel  # noqa: E402
from concord_instrument.session import EXIT_CODE, Faults, WorkerSession, write_all  # noqa: E402
from concord_instrument.spec import instrument_spec  # noqa: E402
from concord.parent import watch_parent  # noqa: E402  (INS-16)


def log(message: str) -> None:
    sys.stderr.write(f"[concord-python-instrument] {message}\n")
    sys.stderr.flush()


class Usage(Exception):
    pass


def parse(argv):
    ap = argparse.ArgumentParser(prog="concord_instrument", add_help=True)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true")
    mode.add_argument("--port", type=int)
    mode.add_argument("--broker")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--id", default=f"instrument-python-{os.getpid()}")
    ap.add_argument("--notify", default="*")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--drop-after", type=int, default=0)
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        raise Usage() from e
    if not 0 <= a.error_rate <= 1 or a.delay_ms < 0 or a.drop_after < 0 or a.seed < 0 or (a.port is not None and not 0 <= a.port <= 65535):
        raise Usage()
    if a.broker is not None:
        host, _, port = a.broker.rpartition(":")
        if not host or not port.isdigit():
            raise Usage()
        a.broker = (host.strip("[]"), int(port))
    return a


def serve_stream(session: WorkerSession, read) -> str:
    """Feeds the session until it ends or the input closes; returns the reason."""
    while session.ended is None:
        try:
            chunk = read()
        except OSError:
            chunk = b""
        if not chunk:
            session.input_ended()
            break
        session.push(chunk)
    return session.ended or "input-closed"


def main(argv) -> int:
    try:
        a = parse(argv)
    except Usage:
        return 64
    try:
        instrument_spec()
    except (OSError, ValueError, KeyError) as e:
        log(f"cannot read the instrument spec: {e}")
        return 70
    model = InstrumentModel(a.seed)
    faults = Faults(a.delay_ms, a.error_rate, a.drop_after, a.seed)

    if a.broker is None and a.port is None:
        session = WorkerSession("client", a.id, model, faults, write_all(sys.stdout.fileno()))

        def died() -> None:
            with_final(session, "parent-died")
        watch_parent(died)
        reason = serve_stream(session, lambda: os.read(sys.stdin.fileno(), 1 << 16))
        log(reason)
        return EXIT_CODE[reason]

    if a.broker is not None:
        try:
            sock = socket.create_connection(a.broker, timeout=10)
        except OSError as e:
            log(f"cannot reach the broker at {a.broker[0]}:{a.broker[1]}: {e}")
            return 69
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = WorkerSession("client", a.id, model, faults, sock.sendall, events_dst=a.notify)
        watch_parent(lambda: with_final(session, "parent-died"))
        reason = serve_stream(session, lambda: sock.recv(1 << 16))
        if session.drop:
            sock.close()
        else:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        log(reason)
        return EXIT_CODE[reason]

    server = socket.create_server((a.host, a.port))
    log(f"listening on {a.host}:{server.getsockname()[1]}")
    watch_parent(lambda: os._exit(0))
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = WorkerSession("broker", a.id, model, faults, conn.sendall)
        reason = serve_stream(session, lambda: conn.recv(1 << 16))
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()
        if reason in ("shutdown", "parent-died"):
            server.close()
            return EXIT_CODE[reason]


def with_final(session: WorkerSession, reason: str) -> None:
    """From the parent watcher: the last event if the output still takes it, then exit (INS-16)."""
    try:
        session.finish(reason)
    finally:
        os._exit(EXIT_CODE[reason])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
