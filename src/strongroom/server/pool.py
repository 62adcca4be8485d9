"""``strongroom serve``'s worker processes, each with a listening socket of its own.

Every worker gets its own socket bound to the same address with ``SO_REUSEPORT``, so the kernel spreads
new connections evenly over the workers. With one shared socket, the first worker to wake accepts a whole
burst of connections, and keep-alive clients then stay on it: in the benchmark all 64 connections ended
up on one of two workers. A worker that dies is started again on the same socket (connections that
arrived meanwhile wait in its backlog). Workers die with ``serve`` (``PR_SET_PDEATHSIG``), even if it is
killed.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Final

from strongroom.process import die_with_parent

__all__ = ["WorkerPool", "install_stop_handlers"]

_BACKLOG: Final = 1024
_RESTART_DELAY_SECONDS: Final = 1.0  # between restarts of a worker that keeps dying
_STOP_TIMEOUT_SECONDS: Final = 10.0


@dataclass
class _Slot:
    listener: socket.socket
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0


class WorkerPool:
    def __init__(self, host: str, port: int, workers: int, *, say: Callable[[str], None]) -> None:
        self.host, self.port = host, port
        self._say = say
        self._slots = [_Slot(_listen(host, port)) for _ in range(workers)]
        self._stopping = threading.Event()

    def start(self) -> None:
        for slot in self._slots:
            self._spawn(slot)

    def run_until_stopped(self) -> None:
        """Keep the workers running (restarting any that dies) until :meth:`request_stop`."""
        while not self._stopping.wait(0.25):
            for slot in self._slots:
                process = slot.process
                if process is None or process.poll() is None:
                    continue
                if time.monotonic() - slot.started < _RESTART_DELAY_SECONDS:
                    continue  # it died at once: wait a little, not a busy loop
                self._report(f"worker {process.pid} exited with {process.returncode}; starting another")
                self._spawn(slot)

    def _report(self, text: str) -> None:
        """Say ``text``; never fail for it (stderr may be a file on a full disk, or a closed pipe)."""
        with suppress(OSError, ValueError):
            self._say(text)

    def request_stop(self, *_: object) -> None:
        """Make :meth:`run_until_stopped` return; safe in a signal handler."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop every worker: SIGTERM (a graceful stop: requests in flight are answered), then SIGKILL."""
        self._stopping.set()
        running = [slot.process for slot in self._slots if slot.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for slot in self._slots:
            slot.listener.close()

    def _spawn(self, slot: _Slot) -> None:
        fd = slot.listener.fileno()
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "strongroom.server.worker", str(fd)],
            pass_fds=(fd,),
            preexec_fn=die_with_parent,
            process_group=0,  # a Ctrl-C in the terminal is for serve, which stops the workers in order
        )
        slot.started = time.monotonic()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind((host, port))
        listener.listen(_BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


def install_stop_handlers(pool: WorkerPool) -> None:
    """SIGTERM and SIGINT stop ``serve`` gracefully."""
    signal.signal(signal.SIGTERM, pool.request_stop)
    signal.signal(signal.SIGINT, pool.request_stop)
