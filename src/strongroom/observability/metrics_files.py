"""Where the workers' metrics files live, and files that cannot kill a process when a disk fills.

prometheus_client's multiprocess mode keeps each process's values in memory-mapped files. It creates them
sparse (``truncate``) and doubles them the same way when they fill, so the first write to a new page must
allocate a block. On a full file system that write is not an error but a ``SIGBUS``, which kills the
process; a worker that replaces it dies the same way while it sets up its metrics. Two defences:

- :func:`create_private_directory`: the files live off the data volume, in a private directory that
  ``serve`` creates under ``/dev/shm`` (a tempdir where there is none) and removes when it exits, so a full
  data volume never touches them;
- :class:`PreallocatedMmapedDict`: every byte of a file is allocated (``posix_fallocate``) before it is
  mapped or grown, so a full file system is an ``OSError`` at allocation, which
  :class:`~strongroom.observability.metrics.Metrics` answers by dropping metrics, never a ``SIGBUS``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from prometheus_client import values
from prometheus_client.mmap_dict import MmapedDict

__all__ = [
    "PRIVATE_PREFIX",
    "PreallocatedMmapedDict",
    "create_private_directory",
    "install_preallocation",
    "remove_private_directory",
]

log = logging.getLogger("strongroom.metrics")
PRIVATE_PREFIX: Final = "strongroom-metrics-"
_SHARED_MEMORY: Final = Path("/dev/shm")
_INITIAL_BYTES: Final = 1 << 16  # prometheus_client's own initial size (mmap_dict._INITIAL_MMAP_SIZE)
_ENTRY_OVERHEAD: Final = 4 + 8 + 16  # length field, at most 8 bytes of padding, value and timestamp


def create_private_directory() -> Path:
    """A new directory (mode 0700) for the metrics files of one ``serve`` run: under ``/dev/shm`` when it
    exists and is writable, else in the temporary directory."""
    base = str(_SHARED_MEMORY) if _SHARED_MEMORY.is_dir() and os.access(_SHARED_MEMORY, os.W_OK) else None
    try:
        return Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=base))
    except OSError:
        if base is None:
            raise
        return Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))


def remove_private_directory(path: str | Path) -> None:
    """Remove a directory made by :func:`create_private_directory` (anything else is left alone)."""
    candidate = Path(path)
    if candidate.name.startswith(PRIVATE_PREFIX) and candidate.is_dir() and not candidate.is_symlink():
        shutil.rmtree(candidate, ignore_errors=True)


def _allocate(fd: int, size: int) -> None:
    """Allocate every block of the first ``size`` bytes (the file grows to ``size`` if shorter)."""
    os.posix_fallocate(fd, 0, size)


class PreallocatedMmapedDict(MmapedDict):
    """prometheus_client's ``MmapedDict`` whose file is fully allocated before it is mapped or grown.

    Raises ``OSError`` (``ENOSPC``) where the original would have mapped a hole and died of SIGBUS on the
    first write to it."""

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        if not read_mode:
            # Before the parent's __init__: it writes to the first page as soon as it has mapped it.
            fd = os.open(filename, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                _allocate(fd, max(os.fstat(fd).st_size, _INITIAL_BYTES))
            finally:
                os.close(fd)
        super().__init__(filename, read_mode)  # type: ignore[no-untyped-call]

    def _init_value(self, key: str) -> None:
        needed = self._used + len(key.encode("utf-8")) + _ENTRY_OVERHEAD
        capacity = self._capacity
        while needed > capacity:
            capacity *= 2  # the parent doubles until the entry fits; this is at least as large
        if capacity != self._capacity:
            _allocate(self._f.fileno(), capacity)
        super()._init_value(key)  # type: ignore[no-untyped-call]


def install_preallocation() -> bool:
    """Make prometheus_client's multiprocess values use :class:`PreallocatedMmapedDict`. False (and a
    warning) if this prometheus_client keeps its files some other way."""
    current = getattr(values, "MmapedDict", None)
    if not (isinstance(current, type) and issubclass(current, MmapedDict)):
        log.warning("cannot preallocate metrics files with this prometheus_client; metrics may be fragile")
        return False
    setattr(values, "MmapedDict", PreallocatedMmapedDict)  # noqa: B010 (not an exported name)
    return True
