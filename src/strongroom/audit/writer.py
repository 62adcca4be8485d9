"""The audit writer process: one per ``strongroom serve``, appending every worker's records to the trail.

Workers send each request's summary (:func:`~strongroom.audit.events.summarize`, already without
secrets) over a local socket; the writer shapes the CloudTrail events, so that work is off the request
path, reads whatever has arrived from all workers, appends it as one batch (one ``fdatasync``), and
acknowledges. While it syncs, more records arrive, so the next
batch is bigger: group commit with no timer. Being its own process, it never competes with request
handling for a worker's GIL, and, being the only writer, it orders one chain for all workers.

Protocol, on a ``SOCK_STREAM`` Unix socket in the abstract namespace (the name is random per start; a
peer is accepted only if its uid is ours, checked with ``SO_PEERCRED``):

- worker to writer: frames of u32 length (big-endian) and the summary JSON;
- writer to worker: 9-byte acknowledgements, ``K`` (durable) or ``F`` (the write failed) and a u64: how
  many of this connection's records are now done, counting from the first.

Run as ``python -m strongroom.audit.writer <trail directory> <socket name>``; it prints ``ready`` once
it listens.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from strongroom.audit.appender import TrailAppender
from strongroom.audit.events import event_from_summary, unreadable_event
from strongroom.process import die_with_parent

__all__ = ["ACK", "FRAME_HEADER", "MAX_RECORD_BYTES", "WriterProcess", "serve_writer"]

FRAME_HEADER: Final = struct.Struct(">I")
ACK: Final = struct.Struct(">cQ")
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024
# Below malloc's mmap threshold: a larger read buffer costs an mmap and munmap per read (measured).
_READ: Final = 64 * 1024


@dataclass(slots=True)
class _Peer:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    done: int = 0  # records of this peer written (or failed) so far


def _same_user(sock: socket.socket) -> bool:
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


def serve_writer(directory: Path, name: str) -> None:
    appender = TrailAppender(directory, shared=True)  # another server on the same data dir stays ordered
    observe = _flush_observer()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(256)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    peers: dict[int, _Peer] = {}
    print("ready", flush=True)
    while True:
        batch: list[tuple[_Peer, bytes]] = []
        for key, _ in selector.select():
            if key.fileobj is listener:
                _accept(listener, selector, peers)
                continue
            peer = peers[key.fd]
            if not _receive(peer, batch):
                selector.unregister(peer.sock)
                del peers[key.fd]
                peer.sock.close()
        if not batch:
            continue
        started = time.perf_counter()
        status = b"K"
        try:
            appender.append([event for _, event in batch])
        except OSError as error:
            status = b"F"
            _complain(f"audit writer: cannot write the trail: {error}")
        else:
            observe(len(batch), time.perf_counter() - started)
        counts: dict[int, _Peer] = {}
        for peer, _ in batch:
            peer.done += 1
            counts[peer.sock.fileno()] = peer
        for peer in counts.values():
            with suppress(OSError):  # the worker went away: nobody waits for these answers
                peer.sock.sendall(ACK.pack(status, peer.done))


def _complain(message: str) -> None:
    """Say it on stderr if stderr takes it: a log on the full disk that fails the trail must not also
    end the writer (or the thread that restarts it)."""
    with suppress(OSError):
        print(message, file=sys.stderr, flush=True)


def _accept(listener: socket.socket, selector: selectors.BaseSelector, peers: dict[int, _Peer]) -> None:
    try:
        sock, _ = listener.accept()
    except BlockingIOError:
        return
    if not _same_user(sock):
        sock.close()
        return
    sock.setblocking(True)
    selector.register(sock, selectors.EVENT_READ)
    peers[sock.fileno()] = _Peer(sock)


def _receive(peer: _Peer, batch: list[tuple[_Peer, bytes]]) -> bool:
    """Read what the peer sent and take its complete records; False when the peer is gone or broken."""
    try:
        data = peer.sock.recv(_READ)
    except OSError:
        return False
    if not data:
        return False
    buffer = peer.buffer
    buffer += data
    offset = 0
    while len(buffer) - offset >= FRAME_HEADER.size:
        (length,) = FRAME_HEADER.unpack_from(buffer, offset)
        if length > MAX_RECORD_BYTES:
            return False
        end = offset + FRAME_HEADER.size + length
        if end > len(buffer):
            break
        summary = bytes(buffer[offset + FRAME_HEADER.size : end])
        try:
            event = event_from_summary(summary)
        except ValueError:  # recorded as unreadable: one bad record must not fail the peer's others
            event = unreadable_event(summary)
        batch.append((peer, event))
        offset = end
    del buffer[:offset]
    return True


def _flush_observer() -> Callable[[int, float], None]:
    """Flush latency and batch size into the shared metrics files (when serve set them up)."""
    from strongroom.observability.metrics import MULTIPROCESS_ENV, audit_flush_histograms

    if not os.environ.get(MULTIPROCESS_ENV):
        return lambda records, seconds: None
    return audit_flush_histograms()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    directory, name = Path(sys.argv[1]), sys.argv[2]
    with suppress(KeyboardInterrupt):
        serve_writer(directory, name)


if __name__ == "__main__":
    main()


class WriterProcess:
    """The writer, started (and restarted if it dies) by ``strongroom serve``; it dies with serve."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"strongroom-audit-{os.getpid()}-{os.urandom(8).hex()}"
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="audit-writer-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _spawn(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "strongroom.audit.writer", str(self.directory), self.name],
            stdout=subprocess.PIPE,
            preexec_fn=die_with_parent,
            process_group=0,  # a Ctrl-C in the terminal is for serve, which stops the writer last
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != b"ready":
            process.kill()
            raise RuntimeError(f"the audit writer did not start (it said {line!r})")
        self._process = process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            _complain(f"audit writer exited with {code}; restarting it")
            with suppress(Exception):
                self._spawn()
            time.sleep(0.5)  # not a busy loop if it keeps failing
