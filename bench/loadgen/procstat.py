"""CPU accounting through ``/proc``: the CPU time of a process and all its descendants, and our own.

The server's CPU time is sampled before and after a timed phase.  Summing ``utime + stime + cutime +
cstime`` over the whole process tree charges the server for every worker process, including workers
that exited and were reaped in between (their time moves into the parent's ``cutime``/``cstime``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

CLK_TCK = os.sysconf("SC_CLK_TCK")


class ProcStat(NamedTuple):
    """The ``/proc/<pid>/stat`` fields the benchmark needs."""

    ppid: int
    ticks: int  # utime + stime + cutime + cstime, in clock ticks


def read_proc_stat(pid: int) -> ProcStat | None:
    """Parse ``/proc/<pid>/stat``; ``None`` if the process is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14-17.
        return ProcStat(ppid=int(fields[1]), ticks=sum(int(f) for f in fields[11:15]))
    except (IndexError, ValueError):
        return None


def tree_cpu_seconds(root: int) -> float | None:
    """Total CPU seconds consumed so far by ``root`` and its descendants; ``None`` if ``root`` is gone."""
    stats: dict[int, ProcStat] = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit() and (stat := read_proc_stat(int(entry.name))) is not None:
                stats[int(entry.name)] = stat
    if root not in stats:
        return None
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.ppid, []).append(pid)
    seen: set[int] = set()
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid not in seen:
            seen.add(pid)
            pending.extend(children.get(pid, []))
    return sum(stats[pid].ticks for pid in seen) / CLK_TCK


def own_cpu_seconds() -> float:
    """CPU seconds (user + system) consumed by this process so far."""
    times = os.times()
    return times.user + times.system
