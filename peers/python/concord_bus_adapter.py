#!/usr/bin/env python3
"""The Python bus peer's adapter: `conformance --suite bus --exec -- python3 peers/python/concord_bus_adapter.py`."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from concord_bus.adapter import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
