import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE.parent
sys.path.insert(0, str(PEER))

REPO = PEER.parents[1]
FIXTURES = REPO / "fixtures"


def load_vectors(rel: str):
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))["vectors"]
