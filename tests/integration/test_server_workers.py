"""``strongroom serve --workers N``: every worker takes connections (one SO_REUSEPORT socket each), a worker
that dies is replaced on the same port, and stopping serve stops them all."""

from __future__ import annotations

import http.client
import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.conftest import start_server
from tests.integration.processes import worker_pids


def established_connections(pid: int, port: int) -> int:
    """How many established TCP connections to ``port`` the process holds open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    with open(f"/proc/{pid}/net/tcp") as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                count += 1
    return count


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def wait_for(condition: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_connections_spread_over_the_workers_and_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--workers", "2")
    try:
        workers = worker_pids(server.process.pid)
        assert len(workers) == 2
        # Keep-alive connections opened in a burst: each worker must get some (with one shared socket,
        # the first worker to wake took them all). The chance that 24 connections hash to one of two
        # sockets is 2 in 2^24.
        connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=5) for _ in range(24)]
        for connection in connections:
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b'{"status":"ok"}'
        held = {pid: established_connections(pid, server.port) for pid in workers}
        assert sum(held.values()) == 24 and all(count > 0 for count in held.values()), held
        for connection in connections:
            connection.close()

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)  # a worker of the server this test started
        assert wait_for(lambda: len(worker_pids(server.process.pid) - {victim}) == 2)
        assert f"worker {victim} exited with -9; starting another" in server.output()
        assert wait_for(lambda: all(healthy(server.port) for _ in range(8)))
        kms: Any = server.client()
        assert kms.generate_random(NumberOfBytes=8)["Plaintext"]
        replacement = worker_pids(server.process.pid)
    finally:
        server.stop()
    assert server.process.returncode == 0
    assert wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in replacement), timeout=10)
