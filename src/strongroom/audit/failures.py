"""What a sink remembers of its writes: whether the last one failed, and when the latest failure was."""

from __future__ import annotations

import time

__all__ = ["FailureTracking"]


class FailureTracking:
    """Mixed into the audit sinks. ``failing`` clears only with the next successful write; readiness
    also asks how recent the failure is (:meth:`failed_within`), so that a worker nobody sends requests
    to does not stay "not ready" forever."""

    _failing: bool = False
    _failed_at: float | None = None

    @property
    def failing(self) -> bool:
        return self._failing

    def failed_within(self, seconds: float) -> bool:
        failed_at = self._failed_at
        return failed_at is not None and time.monotonic() - failed_at < seconds

    def _mark(self, failed: bool) -> None:
        self._failing = failed
        if failed:
            self._failed_at = time.monotonic()
