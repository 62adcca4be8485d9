"""The processes of a running ``strongroom serve``, as the tests see them in /proc."""

from __future__ import annotations

import os

__all__ = ["worker_pids"]


def worker_pids(serve_pid: int) -> set[int]:
    """The PIDs of serve's worker processes (its children running strongroom.server.worker)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == serve_pid and b"strongroom.server.worker" in command:
            found.add(int(entry))
    return found
