"""Parent-death detection for the stdio peers (testee, engine): STDIO-3 asks a child to exit when its
parent dies even while its standard input stays open. The same approach as the instrument worker's
watch_parent (INS-16): os.getppid() changes when the parent dies and the child is re-parented."""
from __future__ import annotations

import os
import threading
import time

POLL_S = 0.25


def exit_when_parent_dies(status: int = 0) -> None:
    """Starts a daemon thread that ends the process with `status` once its first parent is gone."""
    first = os.getppid()

    def loop() -> None:
        while os.getppid() == first:
            time.sleep(POLL_S)
        # The main thread may be blocked reading stdin: end the process from here.
        os._exit(status)
    threading.Thread(target=loop, name="parent-watch", daemon=True).start()
