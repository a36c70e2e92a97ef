"""A reference broker process on a loopback port (0: any free one) that a test can kill and start
again (so that clients reconnect to the same address), stopped by its PID."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]
#: Hang guard for the broker's start on a loaded machine (not a timing assertion).
START_BOUND_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BrokerProcess:
    def __init__(self, port: int) -> None:
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        self.port = port
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        proc = subprocess.Popen(["node", "--import", "tsx", str(REPO / "reference" / "cli.ts"), "broker", "--port", str(self.port)],
                                cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.proc = proc
        lines: List[bytes] = []
        deadline = time.monotonic() + START_BOUND_S
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "listening":
                self.port = int(entry["port"])  # the port bound, for a start on port 0
                threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
                return
        self.kill()
        raise RuntimeError(f"the broker did not start on port {self.port}: {b''.join(lines)[-2000:]!r}")

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL if it has not ended within 10 s."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash: no SHUTDOWN reaches the clients, their connections just drop."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
