"""Injected time and randomness, so deletion windows, rotation and SigV4 expiry are testable."""

from __future__ import annotations

import itertools
import os
import time
from typing import Protocol

__all__ = ["Clock", "CounterIds", "FixedClock", "OffsetClock", "Random", "SystemClock", "SystemRandom"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class OffsetClock:
    """The system clock shifted by a fixed number of seconds (``serve --dev --clock-offset``)."""

    def __init__(self, offset_seconds: float) -> None:
        self.offset_seconds = offset_seconds

    def now(self) -> float:
        return time.time() + self.offset_seconds


class FixedClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.current = start

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


class Random(Protocol):
    def bytes(self, n: int) -> bytes:
        """``n`` cryptographically secure random bytes."""
        ...


class SystemRandom:
    __slots__ = ()

    def bytes(self, n: int) -> bytes:
        return os.urandom(n)


class CounterIds:
    """UUID-shaped unique ids from a random per-process prefix and a counter: unique across processes
    like uuid4, but without a system call per id (request ids, audit event ids)."""

    def __init__(self) -> None:
        prefix = os.urandom(10).hex()
        self._prefix = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        self._counter = itertools.count(int.from_bytes(os.urandom(3), "big") << 24)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"
