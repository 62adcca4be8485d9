"""Process lifetime: helper processes (workers, the audit writer) must not outlive ``strongroom serve``."""

from __future__ import annotations

import ctypes
import signal

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(signal_number: int = signal.SIGTERM) -> None:
    """Have the kernel send this process ``signal_number`` when its parent dies, even by SIGKILL (Linux)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal_number)
