"""One ``strongroom serve`` per data directory, and a data directory that serve can write.

Two servers on one data dir would each run an audit writer (two writers appending to one hash chain) and a
deletion sweeper. ``serve`` therefore holds an exclusive ``flock`` on ``DIR/serve.lock`` for its whole
life; a second ``serve`` fails at once. The kernel drops the lock when the process ends, however it ends,
so a crash leaves nothing to clean up. The workers and the audit writer are children started with
``close_fds``: they never hold the lock. ``strongroom iam`` and ``strongroom audit`` do not take it.

The lock file also records facts about the running server (its PID, its private metrics directory), so
that the next ``serve`` can name the holder in its error, and remove what a killed server left behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

__all__ = ["DataDirLock", "DataDirUnusable", "prepare_data_dir"]


class DataDirUnusable(Exception):
    """The data directory cannot be created, written, or is held by another ``strongroom serve``."""


def _reason(error: OSError) -> str:
    return f"[Errno {error.errno}] {error.strerror}" if error.strerror else str(error)


def prepare_data_dir(path: Path) -> None:
    """Create ``path`` (mode 0700, with its parents) and check that a file can be created in it.

    The probe is a real file creation, not ``os.access``: that answers yes for root on a directory with
    mode 0500, and cannot see an immutable (``chattr +i``) directory."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise DataDirUnusable(f"data dir {path} exists and is not a directory") from None
    except OSError as error:
        raise DataDirUnusable(f"cannot create data dir {path}: {_reason(error)}") from None
    if not path.is_dir():
        raise DataDirUnusable(f"data dir {path} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".write-probe-"):
            pass
    except OSError as error:
        raise DataDirUnusable(f"data dir {path} is not writable: {_reason(error)}") from None


class DataDirLock:
    """The exclusive lock of a running ``serve`` on its data directory (``DIR/serve.lock``, mode 0600)."""

    def __init__(self, fd: int, path: Path, previous: dict[str, Any]) -> None:
        self._fd: int | None = fd
        self.path = path
        self.previous = previous  # what the last holder recorded (it has ended: the lock was free)

    @classmethod
    def acquire(cls, path: Path) -> DataDirLock:
        """Take the lock at ``path`` without waiting; :class:`DataDirUnusable` if another process holds it."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise DataDirUnusable(f"data dir {path.parent} is not writable: {_reason(error)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_facts(fd).get("pid")
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                by = f" (pid {holder})" if isinstance(holder, int) else ""
                raise DataDirUnusable(
                    f"data dir {path.parent} is in use by another strongroom serve{by}; "
                    "only one server may run on a data dir"
                ) from None
            raise DataDirUnusable(f"cannot lock data dir {path.parent}: {_reason(error)}") from None
        os.fchmod(fd, 0o600)
        return cls(fd, path, _read_facts(fd))

    def record(self, **facts: Any) -> None:
        """Replace the facts stored in the lock file (best effort: a full disk must not stop serve)."""
        if self._fd is None:
            return
        data = orjson.dumps({"pid": os.getpid(), **facts}) + b"\n"
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
        except OSError:
            pass

    def release(self) -> None:
        """Give the lock up (the kernel also does so when the process ends)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_facts(fd: int) -> dict[str, Any]:
    try:
        facts = orjson.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, orjson.JSONDecodeError):
        return {}
    return facts if isinstance(facts, dict) else {}
