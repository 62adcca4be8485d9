"""A worker's audit sink under ``strongroom serve``: records go to the audit writer process
(:mod:`strongroom.audit.writer`) over its socket, and requests wait for its acknowledgement.

Records submitted during one turn of the event loop form one :class:`Batch` and go out in one ``send``
when the loop calls :meth:`RemoteAuditSink.wake`; acknowledgements are read by the event loop itself
(``add_reader``), so no thread of the worker takes part. When the writer cannot be reached, or says a
write failed, the waiting requests get the error, and the edge answers them ``KMSInternalException``.
Called outside an event loop, :meth:`wake` reads the acknowledgement itself, blocking.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque

from strongroom.audit.file_sink import Batch
from strongroom.audit.writer import ACK, FRAME_HEADER

__all__ = ["RemoteAuditSink"]


class RemoteAuditSink:
    def __init__(self, name: str) -> None:
        self._name = name
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._frames: list[bytes] = []
        self._staged = Batch()
        self._sent = 0  # records sent on the current connection
        self._in_flight: deque[tuple[int, Batch]] = deque()  # (records sent when it went, its batch)
        self._buffer = bytearray()
        self._failing = False

    @property
    def failing(self) -> bool:
        return self._failing

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
            sock = self._connected()
            sock.sendall(data)
        except OSError as error:
            self._failing = True
            self._drop_connection(error)
            batch.complete(error)
            return
        self._sent += count
        self._in_flight.append((self._sent, batch))
        if self._loop is None:
            self._wait_blocking(batch)

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
        self._sock, self._sent, self._buffer = sock, 0, bytearray()
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        if self._loop is not None:
            self._loop.add_reader(sock.fileno(), self._on_readable)
        return sock

    def _drop_connection(self, error: OSError) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._loop = None
        while self._in_flight:  # unanswered: their requests must not be acknowledged
            self._in_flight.popleft()[1].complete(error)

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(65536)
        except OSError as error:
            self._failing = True
            self._drop_connection(error)
            return
        if not data:
            self._failing = True
            self._drop_connection(OSError("the audit writer closed the connection"))
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
            self._failing = failed
            error = OSError("the audit writer could not write the trail") if failed else None
            while self._in_flight and self._in_flight[0][0] <= done:
                self._in_flight.popleft()[1].complete(error)
        del buffer[:offset]

    def _wait_blocking(self, batch: Batch) -> None:
        while not batch.done and self._sock is not None:
            try:
                data = self._sock.recv(65536)
            except OSError as error:
                self._drop_connection(error)
                return
            if not data:
                self._drop_connection(OSError("the audit writer closed the connection"))
                return
            self._take_acks(data)
