"""Parent-death detection for the stdio peers: STDIO-3 asks a child to exit when its parent dies even
while its standard input stays open (the instrument worker's INS-16 too). os.getppid() changes when the
parent dies and the child is re-parented.

On Linux every ancestor is watched, not only the parent (as reference/transport/parent.ts does): started
through a launcher (a shell script, `env`, a wrapper), the process whose parent died is the launcher,
which waits on this one and never notices. When any ancestor is re-parented this process ends, and the
launchers in between end with it."""
from __future__ import annotations

import os
import threading
import time

POLL_S = 0.25
# Ancestors watched at most: a chain this deep is a bug, not a launcher.
MAX_ANCESTORS = 32


def _parent_of(pid: int | str) -> int | None:
    """The parent of `pid` from /proc/PID/stat, or None when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split(" ")
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def _ancestry(first: int) -> list[tuple[int, int]]:
    """The ancestors at start, each with the parent it had then, from the parent up to (not including) PID 1."""
    chain: list[tuple[int, int]] = []
    pid = first
    while pid > 1 and len(chain) < MAX_ANCESTORS:
        parent = _parent_of(pid)
        if parent is None:
            break
        chain.append((pid, parent))
        pid = parent
    return chain


def watch_parent(on_death) -> None:
    """Starts a daemon thread that calls `on_death` once the parent this process started with, or on
    Linux any ancestor's, is gone."""
    first = os.getppid()
    chain = _ancestry(first) if os.path.exists("/proc/self/stat") else []

    def orphaned() -> bool:
        return os.getppid() != first or any(_parent_of(pid) != parent for pid, parent in chain)

    def loop() -> None:
        while not orphaned():
            time.sleep(POLL_S)
        on_death()
    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def exit_when_parent_dies(status: int = 0) -> None:
    """Ends the process with `status` once its parent is gone: from the watcher thread with os._exit,
    since the main thread may be blocked reading stdin."""
    watch_parent(lambda: os._exit(status))
