"""Parent-death detection for the stdio peers: STDIO-3 asks a child to exit when its parent dies even
while its standard input stays open (the instrument worker's INS-16 too). os.getppid() changes when the
parent dies and the child is re-parented."""
from __future__ import annotations

import os
import threading
import time

POLL_S = 0.25


def watch_parent(on_death) -> None:
    """Starts a daemon thread that calls `on_death` once the parent this process started with is gone."""
    first = os.getppid()

    def loop() -> None:
        while os.getppid() == first:
            time.sleep(POLL_S)
        on_death()
    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def exit_when_parent_dies(status: int = 0) -> None:
    """Ends the process with `status` once its parent is gone: from the watcher thread with os._exit,
    since the main thread may be blocked reading stdin."""
    watch_parent(lambda: os._exit(status))
