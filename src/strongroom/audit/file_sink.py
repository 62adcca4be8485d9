"""The audit trail on disk, written with group commit: a request is answered only once its record is on
stable storage, and one ``fdatasync`` covers every record that arrived while the previous one ran.

Requests :meth:`FileAuditSink.submit` their record's event JSON and wait on the :class:`Batch` they get.
One writer thread per worker takes the whole pending batch at a time and, holding an exclusive ``flock``
on ``<dir>/.lock`` (so that every worker of every process extends the same chain), reads the chain's tail,
appends the batch's lines, ``fdatasync``s them and wakes the batch's waiters. If the write or the sync
fails (a full or read-only disk, an I/O error), whatever was appended is cut off again and every request
of the batch is told so: the edge answers them ``KMSInternalException`` instead of their result, and no
answered request goes unrecorded. The next batch tries again.

A record cut short by a crash (no final newline) was never acknowledged; the next writer cuts it off
before it appends. Segments roll over at ``segment_bytes``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from strongroom.audit.chain import GENESIS, SEGMENT_PATTERN, LinkError, format_line, parse_line, segment_name

__all__ = ["Batch", "FileAuditSink"]

DEFAULT_SEGMENT_BYTES: Final = 256 * 1024 * 1024
_TAIL_READ: Final = 1024 * 1024  # a record is far smaller than this
FlushObserver = Callable[[int, float], None]  # (records in the batch, seconds the write and sync took)


class Batch:
    """Records that become durable together; requests wait on it (threads or asyncio tasks)."""

    __slots__ = ("_done", "_lock", "_waiters", "error", "events")

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self.error: OSError | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def wait(self) -> OSError | None:
        """Block until the batch is durable (None) or has failed (the error)."""
        self._done.wait()
        return self.error

    async def wait_async(self) -> OSError | None:
        if self._done.is_set():
            return self.error
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._done.is_set():
                return self.error
            self._waiters.append((loop, future))
        await future
        return self.error

    def complete(self, error: OSError | None) -> None:
        with self._lock:
            self.error = error
            self._done.set()
            waiters, self._waiters = self._waiters, []
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for loop, future in waiters:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, futures)


def _resolve_all(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


@dataclass(slots=True)
class _Tail:
    """Where the chain ends: in which segment, at which offset, with which hash and sequence number."""

    segment: Path
    size: int
    previous: bytes
    sequence: int


class FileAuditSink:
    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        on_flush: FlushObserver | None = None,
        shared: bool = True,
    ) -> None:
        """``shared=False`` promises that no other process appends to this trail (one worker): each batch
        then skips the lock and the look at the directory, which costs the writer thread fewer GIL
        hand-overs."""
        self.directory = directory
        self.shared = shared
        self.segment_bytes = segment_bytes
        self._on_flush = on_flush
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._segment_fd: int | None = None
        self._segment_path: Path | None = None
        self._tail: _Tail | None = None
        self._failing = False
        self._closing = False
        self._pending = Batch()
        self._condition = threading.Condition()
        self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._writer.start()

    # -- the request side ------------------------------------------------------------------------------
    def submit(self, event: bytes, *, wake: bool = True) -> Batch:
        """Queue a record. ``wake=False`` leaves the writer asleep until :meth:`wake`: an event loop
        wakes it once per turn, so all the requests of one turn share a batch and one hand-over."""
        with self._condition:
            if self._closing:
                raise RuntimeError("the audit sink is closed")
            batch = self._pending
            batch.events.append(event)
            if wake:
                self._condition.notify()
        return batch

    def wake(self) -> None:
        with self._condition:
            self._condition.notify()

    @property
    def failing(self) -> bool:
        """Whether the last write failed (until one succeeds again)."""
        return self._failing

    def close(self) -> None:
        """Write what is pending, then stop the writer."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        self._writer.join()
        for fd in (self._segment_fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._segment_fd = None

    # -- the writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending.events and not self._closing:
                    self._condition.wait()
                batch, self._pending = self._pending, Batch()
                closing = self._closing
            if batch.events:
                self._write(batch)
            if closing:
                return

    def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        try:
            with self._exclusive():
                tail = self._current_tail()
                assert self._segment_fd is not None
                lines = []
                previous, sequence = tail.previous, tail.sequence
                for event in batch.events:
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
        except Exception as error:  # OSError, or a trail we cannot extend (LinkError): never lose the writer
            self._failing = True
            self._close_segment()
            batch.complete(error if isinstance(error, OSError) else OSError(f"audit trail: {error}"))
            return
        self._failing = False
        batch.complete(None)
        if self._on_flush is not None:
            self._on_flush(len(batch.events), time.perf_counter() - started)

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

    def _close_segment(self) -> None:
        if self._segment_fd is not None:
            os.close(self._segment_fd)
        self._segment_fd, self._segment_path = None, None

    def _open_segment(self, path: Path) -> None:
        if self._segment_path != path:
            self._close_segment()
            created = not path.exists()
            self._segment_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._segment_path = path
            if created:
                _sync_directory(self.directory)

    def _current_tail(self) -> _Tail:
        """The chain's end, read from disk unless nobody else has written since our last batch."""
        cached = self._tail
        if not self.shared and cached is not None and cached.size < self.segment_bytes:
            return cached
        segments = list_segments(self.directory)
        if not segments:
            segments = [self.directory / segment_name(1)]
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
