import json
import sys
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
    from broker_process import BrokerProcess

    b = BrokerProcess(0)
    b.start()
    try:
        yield b.port
    finally:
        b.stop()


