"""Extending the trail's chain on disk, synchronously: one call appends a batch and makes it durable.

:meth:`TrailAppender.append` reads the chain's tail (unless it knows it), formats the batch's lines,
appends them, and ``fdatasync``s. If the write or the sync fails (a full or read-only disk, an I/O
error), whatever was appended is cut off again and the error is raised: the chain is never left with a
record that its writer did not see acknowledged. A record cut short by a crash (no final newline) was
never acknowledged either; the next appender cuts it off before it writes. Segments roll over at
``segment_bytes``.

``shared=True`` (several processes append to one trail) takes an exclusive ``flock`` on ``<dir>/.lock``
around each batch and re-reads the tail when another process has written since.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from strongroom.audit.chain import GENESIS, SEGMENT_PATTERN, LinkError, format_line, parse_line, segment_name

__all__ = ["DEFAULT_SEGMENT_BYTES", "TrailAppender", "list_segments"]

DEFAULT_SEGMENT_BYTES: Final = 256 * 1024 * 1024
_TAIL_READ: Final = 1024 * 1024  # a record is far smaller than this


@dataclass(slots=True)
class _Tail:
    """Where the chain ends: in which segment, at which offset, with which hash and sequence number."""

    segment: Path
    size: int
    previous: bytes
    sequence: int


class TrailAppender:
    def __init__(
        self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, shared: bool = True
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.shared = shared
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._segment_fd: int | None = None
        self._segment_path: Path | None = None
        self._tail: _Tail | None = None

    def append(self, events: list[bytes]) -> None:
        """Append one record per event and make them durable; OSError if that failed (nothing kept)."""
        try:
            with self._exclusive():
                tail = self._current_tail()
                assert self._segment_fd is not None
                lines = []
                previous, sequence = tail.previous, tail.sequence
                for event in events:
                    sequence += 1
                    line, previous = format_line(previous, sequence, event)
                    lines.append(line)
                data = b"".join(lines)
                try:
                    _write_all(self._segment_fd, data)
                    os.fdatasync(self._segment_fd)
                except OSError:
                    self._tail = None
                    _truncate_quietly(self._segment_fd, tail.size)
                    raise
                self._tail = _Tail(tail.segment, tail.size + len(data), previous, sequence)
        except LinkError as error:  # a trail we cannot extend
            self._forget()
            raise OSError(f"audit trail: {error}") from None
        except OSError:
            self._forget()
            raise

    def close(self) -> None:
        self._forget()
        os.close(self._lock_fd)

    # -- where the chain ends --------------------------------------------------------------------------
    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self.shared and self._tail is not None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _forget(self) -> None:
        self._tail = None
        if self._segment_fd is not None:
            os.close(self._segment_fd)
        self._segment_fd, self._segment_path = None, None

    def _open_segment(self, path: Path) -> None:
        if self._segment_path != path:
            if self._segment_fd is not None:
                os.close(self._segment_fd)
            created = not path.exists()
            self._segment_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._segment_path = path
            if created:
                _sync_directory(self.directory)

    def _current_tail(self) -> _Tail:
        """The chain's end, read from disk unless nobody else can have written since our last batch."""
        cached = self._tail
        if cached is not None and cached.size < self.segment_bytes and self._still_ours(cached):
            return cached
        segments = list_segments(self.directory) or [self.directory / segment_name(1)]
        newest = segments[-1]
        self._open_segment(newest)
        assert self._segment_fd is not None
        size = os.fstat(self._segment_fd).st_size
        if cached is not None and cached.segment == newest and cached.size == size:
            tail = cached
        else:
            tail = self._read_tail(segments, size)
        if tail.size >= self.segment_bytes:  # roll over: the chain continues in a new segment
            number = int(SEGMENT_PATTERN.fullmatch(newest.name).group(1)) + 1  # type: ignore[union-attr]
            following = self.directory / segment_name(number)
            self._open_segment(following)
            tail = _Tail(following, 0, tail.previous, tail.sequence)
        return tail

    def _still_ours(self, cached: _Tail) -> bool:
        """Whether the chain still ends where our last batch left it: always when the trail is ours
        alone; when it is shared, if the segment has not grown and no later segment was begun (one
        ``fstat`` and one ``stat``, not a directory listing per batch)."""
        if not self.shared:
            return True
        assert self._segment_fd is not None
        if os.fstat(self._segment_fd).st_size != cached.size:
            return False
        number = int(SEGMENT_PATTERN.fullmatch(cached.segment.name).group(1))  # type: ignore[union-attr]
        return not os.path.exists(self.directory / segment_name(number + 1))

    def _read_tail(self, segments: list[Path], size: int) -> _Tail:
        newest = segments[-1]
        end, last = _last_complete_line(newest, size)
        if end < size:  # a record cut short by a crash: it was never acknowledged
            assert self._segment_fd is not None
            os.ftruncate(self._segment_fd, end)
        if last is not None:
            link = parse_line(last)
            return _Tail(newest, end, link.hash, link.sequence)
        for earlier in reversed(segments[:-1]):  # an empty newest segment: the chain ends in an earlier one
            _, line = _last_complete_line(earlier, earlier.stat().st_size)
            if line is not None:
                link = parse_line(line)
                return _Tail(newest, end, link.hash, link.sequence)
        return _Tail(newest, end, GENESIS, 0)


def list_segments(directory: Path) -> list[Path]:
    names = sorted(name for name in os.listdir(directory) if SEGMENT_PATTERN.fullmatch(name))
    return [directory / name for name in names]


def _last_complete_line(path: Path, size: int) -> tuple[int, bytes | None]:
    """The offset just after the last newline, and the last complete line (None if there is none)."""
    if size == 0:
        return 0, None
    with open(path, "rb") as handle:
        start = max(0, size - _TAIL_READ)
        handle.seek(start)
        data = handle.read(size - start)
    cut = data.rfind(b"\n")
    if cut < 0:
        if start == 0:
            return 0, None
        raise LinkError(f"{path.name}: no complete record in its last {_TAIL_READ} bytes")
    begin = data.rfind(b"\n", 0, cut) + 1
    if begin == 0 and start > 0:
        raise LinkError(f"{path.name}: a record longer than {_TAIL_READ} bytes")
    return start + cut + 1, data[begin : cut + 1]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _truncate_quietly(fd: int, size: int) -> None:
    # A device or a read-only file system refuses: then nothing was appended that needs cutting off.
    with suppress(OSError):
        os.ftruncate(fd, size)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
