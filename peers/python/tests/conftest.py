import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PEER = HERE.parent
sys.path.insert(0, str(PEER))

REPO = PEER.parents[1]
FIXTURES = REPO / "fixtures"


def load_vectors(rel: str):
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))["vectors"]


@pytest.fixture(scope="module")
def broker():
    """The TypeScript reference broker on a free loopback port; yields the port."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    proc = subprocess.Popen(["node", "--import", "tsx", str(REPO / "reference" / "cli.ts"), "broker", "--port", "0"],
                            cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    port = None
    lines = []
    try:
        deadline = time.monotonic() + 60
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
                port = entry["port"]
                break
        if port is None:
            raise RuntimeError(f"the broker did not start: {b''.join(lines)[-2000:]!r}")
        drain = threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True)
        drain.start()
        yield port
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)


