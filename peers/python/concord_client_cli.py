#!/usr/bin/env python3
"""Connects the Python client library to a broker and stays connected, answering PINGs and faulty
frames as the spec says, until the broker's SHUTDOWN (answered with SHUTDOWN_ACK) or the end of the
connection; exits 0 then. The client under test for `conformance --listen 0 -- python3
peers/python/concord_client_cli.py --port {port}`. Logs go to stderr."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from concord.client import RemoteError, connect  # noqa: E402
from concord.errors import ProtocolError  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--client-id", default=f"python-client-{os.getpid()}")
    ap.add_argument("--token")
    ap.add_argument("--retries", type=int, default=5)
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    if not 1 <= args.port <= 65535:
        sys.stderr.write("concord_client_cli: --port takes a port number\n")
        return 64
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format='{"level":"%(levelname)s","logger":"%(name)s","msg":"%(message)s"}')
    try:
        client = connect(args.host, args.port, args.client_id, token=args.token, retries=args.retries)
    except (OSError, RemoteError, ProtocolError) as e:
        sys.stderr.write(f"concord_client_cli: {e}\n")
        return 69
    signal.signal(signal.SIGTERM, lambda *_: client.close("terminated"))
    try:
        while not client.wait_closed(0.5):
            pass
    except KeyboardInterrupt:
        client.close("interrupted")
    sys.stderr.write(f"concord_client_cli: closed ({client.close_reason})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
