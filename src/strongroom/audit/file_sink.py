"""The audit sink inside one process, with group commit: a request is answered only once its record is
on stable storage, and one ``fdatasync`` covers every record that arrived while the previous one ran.

Requests :meth:`FileAuditSink.submit` their summary (:func:`~strongroom.audit.events.summarize`) and
wait on the :class:`Batch` they get. A writer thread takes the whole pending batch at a time, shapes the
events, appends them with a :class:`TrailAppender` and
wakes the batch's waiters, with the error if it failed: the edge then answers those requests
``KMSInternalException`` instead of their result, so no answered request goes unrecorded. The next batch
tries again. This is the sink of embedded use and tests; ``strongroom serve`` runs the appender in a
process of its own (:mod:`strongroom.audit.writer`), so that the writing never competes with request
handling for the GIL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from strongroom.audit.appender import DEFAULT_SEGMENT_BYTES, TrailAppender, list_segments
from strongroom.audit.events import event_from_summary, unreadable_event
from strongroom.audit.failures import FailureTracking

__all__ = ["Batch", "FileAuditSink", "FlushObserver", "list_segments"]

FlushObserver = Callable[[int, float], None]  # (records in the batch, seconds the write and sync took)


class Batch:
    """Records that become durable together; requests wait on it (threads or asyncio tasks).

    Cheap to make, because one is made per event-loop turn: a thread's :class:`threading.Event` is
    created only when a thread actually blocks in :meth:`wait`."""

    __slots__ = ("_blocked", "_lock", "_waiters", "done", "error", "summaries")

    def __init__(self) -> None:
        self.summaries: list[bytes] = []
        self.error: OSError | None = None
        self.done = False
        self._lock = threading.Lock()
        self._blocked: threading.Event | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def wait(self, timeout: float | None = None) -> OSError | None:
        """Block until the batch is durable (None) or has failed (the error); after ``timeout``
        seconds, a TimeoutError."""
        with self._lock:
            if self.done:
                return self.error
            if self._blocked is None:
                self._blocked = threading.Event()
            blocked = self._blocked
        if not blocked.wait(timeout):
            return TimeoutError("the audit trail did not acknowledge the record in time")
        return self.error

    async def wait_async(self) -> OSError | None:
        if self.done:
            return self.error
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()  # one per waiter: a cancelled one stays its own
        with self._lock:
            if self.done:
                return self.error
            self._waiters.append((loop, future))
        await future
        return self.error

    def complete(self, error: OSError | None) -> None:
        """Mark the batch done; callable from any thread."""
        with self._lock:
            self.error = error
            self.done = True
            waiters, self._waiters = self._waiters, []
            blocked = self._blocked
        if blocked is not None:
            blocked.set()
        if not waiters:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, future in waiters:
            if loop is running:
                _resolve(future)
            else:
                loop.call_soon_threadsafe(_resolve, future)


def _event(summary: bytes) -> bytes:
    try:
        return event_from_summary(summary)
    except ValueError:
        return unreadable_event(summary)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FileAuditSink(FailureTracking):
    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        on_flush: FlushObserver | None = None,
        shared: bool = True,
    ) -> None:
        self.directory = directory
        self._appender = TrailAppender(directory, segment_bytes=segment_bytes, shared=shared)
        self._on_flush = on_flush
        self._closing = False
        self._pending = Batch()
        self._condition = threading.Condition()
        self._writer = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._writer.start()

    def submit(self, summary: bytes, *, wake: bool = True) -> Batch:
        """Queue a record (its :func:`~strongroom.audit.events.summarize` bytes). ``wake=False`` leaves
        the writer asleep until :meth:`wake`: an event loop wakes it once per turn, so all the requests
        of one turn share a batch and one hand-over."""
        with self._condition:
            if self._closing:
                raise RuntimeError("the audit sink is closed")
            batch = self._pending
            batch.summaries.append(summary)
            if wake:
                self._condition.notify()
        return batch

    def wake(self) -> None:
        with self._condition:
            self._condition.notify()

    def wait_blocking(self, batch: Batch, timeout: float) -> OSError | None:
        """Block until ``batch`` is durable (None) or failed (the error), at most ``timeout`` seconds."""
        self.wake()
        return batch.wait(timeout)

    def close(self) -> None:
        """Write what is pending, then stop the writer."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        self._writer.join()
        self._appender.close()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending.summaries and not self._closing:
                    self._condition.wait()
                batch, self._pending = self._pending, Batch()
                closing = self._closing
            if batch.summaries:
                self._write(batch)
            if closing:
                return

    def _write(self, batch: Batch) -> None:
        started = time.perf_counter()
        try:
            self._appender.append([_event(summary) for summary in batch.summaries])
        except OSError as error:
            self._mark(True)
            batch.complete(error)
            return
        except Exception as error:  # never lose the writer thread
            self._mark(True)
            batch.complete(OSError(f"audit trail: {error}"))
            return
        self._mark(False)
        batch.complete(None)
        if self._on_flush is not None:
            self._on_flush(len(batch.summaries), time.perf_counter() - started)
