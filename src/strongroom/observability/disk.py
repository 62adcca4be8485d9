"""Is the data volume full (or read-only)? Cheap enough to ask on every request.

A worker's own view of the audit sink ("my last write failed") is lost when the worker is replaced, and
says nothing until a write has been tried. The file system's free space says it at once, and for every
process alike: :class:`DiskSpace` asks ``statvfs`` for each watched directory at most once per
``interval`` seconds and answers from that in between.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

__all__ = ["MINIMUM_FREE_BYTES", "DiskSpace"]

log = logging.getLogger("strongroom.disk")
MINIMUM_FREE_BYTES: Final = 1024 * 1024  # below this a record, a WAL frame or a new page may not fit
_INTERVAL_SECONDS: Final = 1.0


def _available_bytes(stat: os.statvfs_result) -> int:
    """What this process may still write: root may use the blocks reserved for it, others may not."""
    blocks = stat.f_bfree if os.geteuid() == 0 else stat.f_bavail
    return int(blocks) * int(stat.f_frsize)


class DiskSpace:
    """Whether the file systems holding ``paths`` can take writes: not read-only, and with at least
    ``minimum_free`` bytes available on each."""

    def __init__(
        self,
        paths: Iterable[Path],
        *,
        minimum_free: int = MINIMUM_FREE_BYTES,
        interval: float = _INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._paths = tuple(dict.fromkeys(Path(path) for path in paths))
        self._minimum_free = minimum_free
        self._interval = interval
        self._clock = clock
        self._checked_at: float | None = None
        self._full = False

    def is_full(self) -> bool:
        """True while a watched file system is full or read-only (or cannot be asked). At most one
        ``statvfs`` per path per ``interval``; in between, the last answer. For the request path."""
        now = self._clock()
        if self._checked_at is None or now - self._checked_at >= self._interval:
            return self.check_now()
        return self._full

    def check_now(self) -> bool:
        """:meth:`is_full`, asked of the file systems now (for ``/readyz``, which must not lag)."""
        self._checked_at = self._clock()
        full = not all(self._writable(path) for path in self._paths)
        if full != self._full:
            log.warning("data volume %s", "full or read-only" if full else "writable again")
        self._full = full
        return full

    def _writable(self, path: Path) -> bool:
        while True:
            try:
                stat = os.statvfs(path)
                break
            except FileNotFoundError:  # not created yet: the file system it will be created on
                if path.parent == path:
                    return False
                path = path.parent
            except OSError:
                return False
        if stat.f_flag & os.ST_RDONLY:
            return False
        return _available_bytes(stat) >= self._minimum_free
