"""python3 peers/python/concord_engine [--stdio | --port N [--host H] [--id NAME] [--token T]] [--seed N]"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

if __package__ in (None, ""):
    # Run as a directory (python3 peers/python/concord_engine): make the peers/python packages importable.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "concord_engine"  # noqa: A001

from concord_engine.core import DEFAULT_SEED, Engine  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="concord_engine", description="The Concord reference engine in Python.")
    ap.add_argument("--stdio", action="store_true", help="frames on stdin/stdout (the engine suite)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--id", default=None, help="client id at the broker (default engine-python-PID)")
    ap.add_argument("--token", default=None)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[concord-python-engine] %(message)s")
    if a.stdio:
        from concord.parent import exit_when_parent_dies
        exit_when_parent_dies()  # STDIO-3: the parent's death ends the engine even while stdin stays open
        from concord_engine.stdio import StdioEngine
        return StdioEngine(lambda: Engine("python", a.seed), sys.stdout.fileno()).run()
    engine = Engine(a.id or "python", a.seed)
    if a.port is None:
        ap.error("--stdio or --port is required")
    from concord_engine.broker import serve_broker
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return serve_broker(engine, a.host, a.port, a.id or f"engine-python-{os.getpid()}", a.token, stop)


if __name__ == "__main__":
    sys.exit(main())
