"""A worker's audit sink under ``strongroom serve``: records go to the audit writer process
(:mod:`strongroom.audit.writer`) over its socket, and requests wait for its acknowledgement.

Records submitted during one turn of the event loop form one :class:`Batch` and go out together when
the loop calls :meth:`RemoteAuditSink.wake`; acknowledgements are read by the event loop itself
(``add_reader``), so no thread of the worker takes part. Under an event loop the socket is
non-blocking: what the kernel does not take at once waits in an outbox, sent as the socket becomes
writable (``add_writer``), so a batch of any size goes out whole, in order, and never fails for being
large. When the writer cannot be reached, or says a write failed, the waiting requests get the error,
and the edge answers them ``KMSInternalException``. :meth:`RemoteAuditSink.wait_blocking` waits for one
batch without the event loop (a change waiting for its record before it commits; or no loop at all).
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections import deque

from strongroom.audit.failures import FailureTracking
from strongroom.audit.file_sink import Batch
from strongroom.audit.writer import ACK, FRAME_HEADER

__all__ = ["RemoteAuditSink"]

_READ = 65536


class RemoteAuditSink(FailureTracking):
    def __init__(self, name: str) -> None:
        self._name = name
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames: list[bytes] = []
        self._staged = Batch()
        self._sent = 0  # records handed to the connection (sent or in the outbox)
        self._in_flight: deque[tuple[int, Batch]] = deque()  # (records sent when it went, its batch)
        self._outbox = bytearray()  # bytes the socket has not taken yet
        self._writer_armed = False
        self._buffer = bytearray()

    def submit(self, summary: bytes, *, wake: bool = True) -> Batch:
        self._frames.append(FRAME_HEADER.pack(len(summary)) + summary)
        batch = self._staged
        if wake:
            self.wake()
        return batch

    def wake(self) -> None:
        """Send what was submitted since the last call, as one batch."""
        if not self._frames:
            return
        data, batch = b"".join(self._frames), self._staged
        count = len(self._frames)
        self._frames, self._staged = [], Batch()
        try:
            self._connected()
        except OSError as error:
            self._mark(True)
            batch.complete(error)
            return
        self._sent += count
        self._in_flight.append((self._sent, batch))
        self._outbox += data
        self._send_outbox()
        if self._loop is None:
            self.wait_blocking(batch, timeout=None)

    def wait_blocking(self, batch: Batch, timeout: float | None) -> OSError | None:
        """Send and read acknowledgements on this thread until ``batch`` is done; the error if it
        failed, TimeoutError after ``timeout`` seconds. Batches of other requests that complete
        meanwhile are completed as usual (their tasks resume when the loop runs again)."""
        self.wake()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not batch.done:
            sock = self._sock
            if sock is None:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return TimeoutError("the audit writer did not acknowledge the record in time")
            writing = [sock] if self._outbox else []
            try:
                readable, writable, _ = select.select([sock], writing, [], left)
            except (OSError, ValueError) as error:
                self._fail(OSError(str(error)))
                break
            if writable:
                self._send_outbox()
            if readable:
                self._on_readable()
        return batch.error if batch.done else OSError("the audit writer connection was lost")

    def close(self) -> None:
        self._drop_connection(OSError("the audit sink is closed"))

    # -- the connection ------------------------------------------------------------------------------
    def _connected(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect("\0" + self._name)
        except OSError:
            sock.close()
            raise
        self._sock, self._sent, self._buffer, self._outbox = sock, 0, bytearray(), bytearray()
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        if self._loop is not None:
            sock.setblocking(False)
            self._loop.add_reader(sock.fileno(), self._on_readable)
        return sock

    def _send_outbox(self) -> None:
        """Hand the socket as much of the outbox as it takes; arm ``add_writer`` for the rest."""
        sock = self._sock
        if sock is None:
            return
        outbox = self._outbox
        try:
            while outbox:
                sent = sock.send(outbox)
                del outbox[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as error:
            self._fail(error)
            return
        want_writer = bool(outbox) and self._loop is not None
        if want_writer != self._writer_armed and self._loop is not None:
            if want_writer:
                self._loop.add_writer(sock.fileno(), self._send_outbox)
            else:
                self._loop.remove_writer(sock.fileno())
            self._writer_armed = want_writer

    def _fail(self, error: OSError) -> None:
        self._mark(True)
        self._drop_connection(error)

    def _drop_connection(self, error: OSError) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
                if self._writer_armed:
                    self._loop.remove_writer(sock.fileno())
            sock.close()
        self._loop = None
        self._writer_armed = False
        self._outbox = bytearray()
        while self._in_flight:  # unanswered: their requests must not be acknowledged
            self._in_flight.popleft()[1].complete(error)

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._fail(error)
            return
        if not data:
            self._fail(OSError("the audit writer closed the connection"))
            return
        self._take_acks(data)

    def _take_acks(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= ACK.size:
            status, done = ACK.unpack_from(buffer, offset)
            offset += ACK.size
            failed = status != b"K"
            self._mark(failed)
            error = OSError("the audit writer could not write the trail") if failed else None
            while self._in_flight and self._in_flight[0][0] <= done:
                self._in_flight.popleft()[1].complete(error)
        del buffer[:offset]
