"""Injected time and randomness, so deletion windows, rotation and SigV4 expiry are testable."""

from __future__ import annotations

import os
import time
from typing import Protocol

__all__ = ["Clock", "FixedClock", "OffsetClock", "Random", "SystemClock", "SystemRandom"]


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
