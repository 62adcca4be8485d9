#!/usr/bin/env python3
"""Load benchmark for Strongroom's ``TrentService.GenerateDataKey``.

By default the script starts ``strongroom serve`` itself once per ``--workers`` value (fresh data
directory, free port, admin credentials through the environment), creates a symmetric key, warms up and
then sends a fixed number of ``GenerateDataKey`` (``KeySpec=AES_256``) requests over ``--concurrency``
keep-alive HTTP/1.1 connections.  With ``--endpoint`` it benchmarks an already-running server instead.

The client is built to cost far less CPU than the server, because client and server share a small
machine: a pool of requests is SigV4-signed *before* the timed phase and serialised to raw HTTP/1.1
bytes once; the timed phase only writes those bytes and parses the responses on raw asyncio streams
(uvloop when available).  A SigV4 signature is accepted for a few minutes only, so the pool is re-signed
in the background of a phase that runs for longer than :data:`RESIGN_AFTER_S`.

Reported per run: wall time, requests/s, latency percentiles, the server's CPU time per request (utime +
stime of the server process and all its descendants, from ``/proc``; the steady figure on a shared
machine) and the client's own CPU time per request.

Examples::

    python bench/gdk_load.py                               # spawn strongroom, workers 1 and 2
    python bench/gdk_load.py --workers 2 --requests 20000 --json
    python bench/gdk_load.py --endpoint http://127.0.0.1:5000 --access-key test --secret-key test \\
        --region us-east-1 --server-pid 12345
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

TARGET = "TrentService.GenerateDataKey"
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "kms"

ADMIN_ACCESS_KEY_ID = "AKIABENCHMARK0000001"
ENV_ADMIN_ACCESS_KEY_ID = "STRONGROOM_ADMIN_ACCESS_KEY_ID"
ENV_ADMIN_SECRET_ACCESS_KEY = "STRONGROOM_ADMIN_SECRET_ACCESS_KEY"

RESIGN_AFTER_S = 240.0
"""Re-sign the request pool once it is this old (SigV4 signatures are honoured for ~5 minutes)."""

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_SETUP_FAILED = 2

LOG_TAIL_LINES = 40
LOG_TAIL_BYTES = 16_384


class SetupError(Exception):
    """The benchmark could not be set up (server did not start, key could not be created, ...)."""


def log(message: str) -> None:
    """Print a progress message on stderr (stdout is reserved for results)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineInfo:
    """What the benchmark ran on."""

    nproc: int
    cpu_model: str
    python: str
    event_loop: str


def cpu_model() -> str:
    """Return the CPU model name from ``/proc/cpuinfo`` (or a best-effort fallback)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Processor", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def usable_cpus() -> int:
    """Return the number of CPUs this process may run on (what ``nproc`` prints)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def event_loop_name() -> str:
    """Describe the event loop the client will use."""
    try:
        import uvloop
    except ImportError:
        return "asyncio (uvloop not installed)"
    return f"uvloop {getattr(uvloop, '__version__', '?')}"


def machine_info() -> MachineInfo:
    """Collect :class:`MachineInfo` for the current host."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return MachineInfo(
        nproc=usable_cpus(), cpu_model=cpu_model(), python=python, event_loop=event_loop_name()
    )


# --------------------------------------------------------------------------------------------------
# Server CPU accounting through /proc
# --------------------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """The few ``/proc/<pid>/stat`` fields the benchmark needs."""

    ppid: int
    ticks: int  # utime + stime + cutime + cstime, in clock ticks
    start_time: int  # in clock ticks after boot; identifies the process together with its pid


def read_proc_stat(pid: int) -> ProcStat | None:
    """Parse ``/proc/<pid>/stat``; ``None`` if the process is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17, starttime field 22.
        return ProcStat(
            ppid=int(fields[1]), ticks=sum(int(f) for f in fields[11:15]), start_time=int(fields[19])
        )
    except (IndexError, ValueError):
        return None


def process_tree(root: int) -> dict[int, ProcStat]:
    """Return ``root`` and all its live descendants, found by walking the ppid of every ``/proc`` entry.

    The children's CPU time of reaped descendants is included through ``cutime``/``cstime`` of their
    parent, so a worker that exits between two samples does not make its CPU time vanish.
    """
    stats: dict[int, ProcStat] = {}
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                stat = read_proc_stat(int(entry.name))
                if stat is not None:
                    stats[int(entry.name)] = stat
    if root not in stats:
        return {}
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(stat.ppid, []).append(pid)
    tree: dict[int, ProcStat] = {}
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tree[pid] = stats[pid]
        pending.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float | None:
    """Total CPU seconds consumed so far by ``root`` and its descendants; ``None`` if ``root`` is gone."""
    tree = process_tree(root)
    if not tree:
        return None
    return sum(stat.ticks for stat in tree.values()) / CLK_TCK


def own_cpu_seconds() -> float:
    """CPU seconds (user + system) consumed by this process so far."""
    times = os.times()
    return times.user + times.system


# --------------------------------------------------------------------------------------------------
# Target description and pre-signed requests
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where to send the load and with which credentials."""

    endpoint: str
    host: str
    port: int
    tls: bool
    host_header: str
    path: str
    region: str
    access_key: str
    secret_key: str
    session_token: str | None
    key_id: str

    @classmethod
    def parse(
        cls,
        endpoint: str,
        *,
        region: str,
        access_key: str,
        secret_key: str,
        session_token: str | None,
        key_id: str,
    ) -> Target:
        """Build a target from an ``http(s)://host[:port][/path]`` endpoint URL."""
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SetupError(f"endpoint must be an http:// or https:// URL, got {endpoint!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        return cls(
            endpoint=endpoint,
            host=parts.hostname,
            port=port,
            tls=tls,
            host_header=parts.netloc,
            path=parts.path or "/",
            region=region,
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            key_id=key_id,
        )


def sign_requests(target: Target, count: int, generation: int) -> list[bytes]:
    """SigV4-sign ``count`` distinct GenerateDataKey requests and return them as raw HTTP/1.1 bytes.

    Each request carries a different EncryptionContext value so that the server cannot serve them from
    a cache of identical requests.
    """
    signer = SigV4Auth(
        Credentials(target.access_key, target.secret_key, target.session_token), SERVICE, target.region
    )
    url = f"{'https' if target.tls else 'http'}://{target.host_header}{target.path}"
    payloads: list[bytes] = []
    for index in range(count):
        body = json.dumps(
            {
                "KeyId": target.key_id,
                "KeySpec": "AES_256",
                "EncryptionContext": {
                    "purpose": "strongroom-bench",
                    "request": f"g{generation}-r{index:05d}",
                },
            },
            separators=(",", ":"),
        ).encode()
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Host": target.host_header, "Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        )
        signer.add_auth(request)
        lines = [f"POST {target.path} HTTP/1.1"]
        lines.extend(f"{name}: {value}" for name, value in request.headers.items())
        lines.append(f"Content-Length: {len(body)}")
        payloads.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    return payloads


@dataclass
class RequestPool:
    """Pre-signed raw requests used round-robin, re-signed when they get close to expiry."""

    target: Target
    size: int
    payloads: list[bytes] = field(default_factory=list)
    signed_at: float = 0.0
    generation: int = 0
    sign_seconds: float = 0.0

    def sign(self) -> None:
        """(Re-)sign the whole pool now."""
        started = time.monotonic()
        self.payloads = sign_requests(self.target, self.size, self.generation)
        self.generation += 1
        self.signed_at = time.monotonic()
        self.sign_seconds = self.signed_at - started

    def refresh_if_old(self) -> bool:
        """Re-sign the pool if its signatures are older than :data:`RESIGN_AFTER_S`; report whether it did."""
        if time.monotonic() - self.signed_at < RESIGN_AFTER_S:
            return False
        self.sign()
        return True


# --------------------------------------------------------------------------------------------------
# The load generator
# --------------------------------------------------------------------------------------------------


class TransportError(Exception):
    """The connection failed before a complete response was read."""

    def __init__(self, message: str, *, response_started: bool) -> None:
        super().__init__(message)
        self.response_started = response_started


@dataclass
class PhaseResult:
    """Raw outcome of one load phase."""

    label: str
    total: int
    concurrency: int
    completed: int = 0
    ok: int = 0
    non_200: dict[int, int] = field(default_factory=dict)
    first_error: str | None = None
    transport_errors: int = 0
    retries: int = 0
    reconnects: int = 0
    stalled: bool = False
    resigned: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    validation_error: str | None = None

    @property
    def failed(self) -> bool:
        """Whether anything went wrong (any request not answered with a valid HTTP 200)."""
        return (
            self.ok != self.total
            or bool(self.non_200)
            or self.transport_errors > 0
            or self.stalled
            or self.validation_error is not None
        )

    def note_error(self, message: str) -> None:
        """Remember the first error seen."""
        if self.first_error is None:
            self.first_error = message


async def open_stream(target: Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open one connection to the target (TCP_NODELAY is set by asyncio/uvloop for TCP sockets)."""
    ssl_context = ssl.create_default_context() if target.tls else None
    server_hostname = target.host if target.tls else None
    return await asyncio.open_connection(
        target.host, target.port, ssl=ssl_context, server_hostname=server_hostname
    )


def header_value(lowered_head: bytes, name: bytes) -> bytes | None:
    """Return the value of header ``name`` (lower-case, with a leading CRLF and trailing colon)."""
    start = lowered_head.find(name)
    if start < 0:
        return None
    start += len(name)
    end = lowered_head.find(b"\r\n", start)
    return lowered_head[start:end].strip()


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """Read a ``Transfer-Encoding: chunked`` body (trailers are discarded)."""
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[int, bytes, bool]:
    """Send one raw request and read its response; return ``(status, body, connection_must_close)``."""
    writer.write(payload)
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise TransportError(
            f"connection closed before the response head ({len(exc.partial)} bytes received)",
            response_started=bool(exc.partial),
        ) from None
    except (OSError, asyncio.LimitOverrunError) as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}", response_started=False) from None
    try:
        if not head.startswith(b"HTTP/1."):
            raise TransportError(f"not an HTTP/1.x response: {head[:80]!r}", response_started=True)
        status = int(head[9:12])
        lowered = head.lower()
        must_close = head.startswith(b"HTTP/1.0") or b"\r\nconnection: close" in lowered
        length = header_value(lowered, b"\r\ncontent-length:")
        if length is not None:
            body = await reader.readexactly(int(length))
        elif b"\r\ntransfer-encoding: chunked" in lowered:
            body = await read_chunked(reader)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await reader.read()
            must_close = True
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise TransportError(
            f"bad or truncated response: {type(exc).__name__}: {exc}", response_started=True
        ) from None
    return status, body, must_close


def validate_generate_data_key(body: bytes) -> str | None:
    """Check that a 200 body looks like a GenerateDataKey answer for AES_256; return a problem or ``None``."""
    try:
        document = json.loads(body)
        plaintext = base64.b64decode(document["Plaintext"], validate=True)
        ciphertext = base64.b64decode(document["CiphertextBlob"], validate=True)
        key_id = document["KeyId"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"unexpected GenerateDataKey response ({type(exc).__name__}: {exc}): {body[:300]!r}"
    if len(plaintext) != 32:
        return f"Plaintext is {len(plaintext)} bytes, expected 32 for AES_256"
    if not ciphertext or not isinstance(key_id, str):
        return f"empty CiphertextBlob or bad KeyId: {body[:300]!r}"
    return None


class LoadRun:
    """One phase of load: ``total`` requests over ``concurrency`` connections."""

    def __init__(
        self,
        *,
        label: str,
        target: Target,
        pool: RequestPool,
        total: int,
        concurrency: int,
        stall_timeout: float,
        server_pid: int | None,
    ) -> None:
        self.target = target
        self.pool = pool
        self.total = total
        self.concurrency = min(concurrency, total)
        self.stall_timeout = stall_timeout
        self.server_pid = server_pid
        self.result = PhaseResult(label=label, total=total, concurrency=self.concurrency)
        self.next_index = 0
        self.validated = False

    async def run(self) -> PhaseResult:
        """Connect, then run the timed phase and fill in :attr:`result`."""
        result = self.result
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        gc_was_enabled = gc.isenabled()
        try:
            opened = await asyncio.gather(
                *(open_stream(self.target) for _ in range(self.concurrency)), return_exceptions=True
            )
            streams = [item for item in opened if not isinstance(item, BaseException)]
            failures = [item for item in opened if isinstance(item, BaseException)]
            if failures:
                raise SetupError(f"cannot connect to {self.target.endpoint}: {failures[0]!r}")
            start = asyncio.Event()
            latencies: list[list[int]] = [[] for _ in streams]
            workers = [
                asyncio.create_task(self.worker(slot, streams, start, latencies[slot]))
                for slot in range(len(streams))
            ]
            await asyncio.sleep(0)  # let every worker reach start.wait()

            gc.disable()  # no collector pauses in the client during the timed phase
            server_cpu_before = tree_cpu_seconds(self.server_pid) if self.server_pid else None
            client_cpu_before = own_cpu_seconds()
            started_ns = time.perf_counter_ns()
            start.set()
            watchdog = asyncio.create_task(self.watchdog(workers))
            await asyncio.gather(*workers, return_exceptions=True)
            finished_ns = time.perf_counter_ns()
            client_cpu_after = own_cpu_seconds()
            server_cpu_after = tree_cpu_seconds(self.server_pid) if self.server_pid else None
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

            result.wall_s = (finished_ns - started_ns) / 1e9
            result.client_cpu_s = client_cpu_after - client_cpu_before
            if server_cpu_before is not None and server_cpu_after is not None:
                result.server_cpu_s = server_cpu_after - server_cpu_before
            elif self.server_pid:
                result.note_error(f"server process {self.server_pid} disappeared during the run")
            result.latencies_ns = [value for chunk in latencies for value in chunk]
            for worker in workers:
                if not worker.cancelled() and worker.exception() is not None:
                    result.note_error(f"client worker crashed: {worker.exception()!r}")
            return result
        finally:
            if gc_was_enabled:
                gc.enable()
            for _, writer in streams:
                writer.close()
            for _, writer in streams:
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def watchdog(self, workers: Sequence[asyncio.Task[None]]) -> None:
        """Re-sign the pool before signatures expire and abort the phase if nothing completes for a while."""
        last_completed = -1
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self.pool.refresh_if_old():
                self.result.resigned += 1
            now = time.monotonic()
            if self.result.completed != last_completed:
                last_completed = self.result.completed
                last_progress = now
            elif now - last_progress > self.stall_timeout:
                self.result.stalled = True
                self.result.note_error(
                    f"no response for {self.stall_timeout:.0f} s "
                    f"after {self.result.completed} completed requests"
                )
                for worker in workers:
                    worker.cancel()
                return

    async def worker(
        self,
        slot: int,
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
        start: asyncio.Event,
        latencies: list[int],
    ) -> None:
        """Drive connection ``streams[slot]`` until the shared request budget is used up."""
        result = self.result
        pool = self.pool
        total = self.total
        record = latencies.append
        clock = time.perf_counter_ns
        served = 0  # responses read on the current connection
        await start.wait()
        while True:
            index = self.next_index
            if index >= total:
                return
            self.next_index = index + 1
            payloads = pool.payloads
            payload = payloads[index % len(payloads)]
            began = clock()
            try:
                status, body, must_close = await self.exchange_with_retry(slot, streams, payload, served)
            except TransportError as exc:
                result.transport_errors += 1
                result.completed += 1
                result.note_error(f"request {index}: {exc}")
                served = 0
                if not await self.reconnect(slot, streams):
                    return
                continue
            record(clock() - began)
            result.completed += 1
            served += 1
            if status == 200:
                result.ok += 1
                if not self.validated:
                    self.validated = True
                    result.validation_error = validate_generate_data_key(body)
            else:
                result.non_200[status] = result.non_200.get(status, 0) + 1
                result.note_error(f"HTTP {status}: {body[:1000].decode('utf-8', errors='replace')}")
            if must_close:
                served = 0
                if not await self.reconnect(slot, streams):
                    return

    async def exchange_with_retry(
        self,
        slot: int,
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
        payload: bytes,
        served: int,
    ) -> tuple[int, bytes, bool]:
        """Exchange one request; retry once on a new connection if a reused one was closed while idle."""
        reader, writer = streams[slot]
        try:
            return await exchange(reader, writer, payload)
        except TransportError as exc:
            if served == 0 or exc.response_started:
                raise
            self.result.retries += 1
            if not await self.reconnect(slot, streams):
                raise
        reader, writer = streams[slot]
        return await exchange(reader, writer, payload)

    async def reconnect(
        self, slot: int, streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    ) -> bool:
        """Close connection ``slot`` and open a fresh one; ``False`` (worker should stop) if that fails."""
        streams[slot][1].close()
        self.result.reconnects += 1
        try:
            streams[slot] = await open_stream(self.target)
        except OSError as exc:
            self.result.note_error(f"reconnect failed, client connection {slot} gives up: {exc}")
            return False
        return True


def run_phase(
    runner: asyncio.Runner,
    *,
    label: str,
    target: Target,
    pool: RequestPool,
    total: int,
    concurrency: int,
    stall_timeout: float,
    server_pid: int | None,
) -> PhaseResult:
    """Run one load phase to completion on ``runner``'s event loop."""
    pool.sign()  # a fresh signing window for every phase
    load = LoadRun(
        label=label,
        target=target,
        pool=pool,
        total=total,
        concurrency=concurrency,
        stall_timeout=stall_timeout,
        server_pid=server_pid,
    )
    return runner.run(load.run())


def new_runner() -> asyncio.Runner:
    """An asyncio runner on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


# --------------------------------------------------------------------------------------------------
# Statistics and output
# --------------------------------------------------------------------------------------------------


def percentile_ms(sorted_ns: Sequence[int], pct: float) -> float | None:
    """Nearest-rank percentile of sorted nanosecond values, in milliseconds."""
    if not sorted_ns:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def summarise(
    result: PhaseResult, *, workers: int | None, mode: str, machine: MachineInfo, presigned: int, warmup: int
) -> dict[str, Any]:
    """Turn a :class:`PhaseResult` into the flat record that is printed."""
    latencies = sorted(result.latencies_ns)
    wall = result.wall_s or float("nan")
    server_us = result.server_cpu_s * 1e6 / result.total if result.server_cpu_s is not None else None
    client_us = result.client_cpu_s * 1e6 / result.total
    return {
        "mode": mode,
        "workers": workers,
        "requests": result.total,
        "concurrency": result.concurrency,
        "ok": result.ok,
        "wall_s": round(result.wall_s, 3),
        "rps": round(result.ok / wall, 1),
        "p50_ms": _round(percentile_ms(latencies, 50), 3),
        "p90_ms": _round(percentile_ms(latencies, 90), 3),
        "p99_ms": _round(percentile_ms(latencies, 99), 3),
        "max_ms": _round(latencies[-1] / 1e6 if latencies else None, 3),
        "server_cpu_us_per_req": _round(server_us, 1),
        "rps_per_server_core": _round(1e6 / server_us if server_us else None, 1),
        "server_cores_busy": _round(
            result.server_cpu_s / wall if result.server_cpu_s is not None else None, 2
        ),
        "client_cpu_us_per_req": round(client_us, 1),
        "client_cores_busy": round(result.client_cpu_s / wall, 2),
        "non_200": {str(code): count for code, count in sorted(result.non_200.items())},
        "transport_errors": result.transport_errors,
        "errors": result.total - result.ok,
        "retries": result.retries,
        "reconnects": result.reconnects,
        "resigned": result.resigned,
        "failed": result.failed,
        "first_error": result.first_error or result.validation_error,
        "presigned": presigned,
        "warmup": warmup,
        "nproc": machine.nproc,
        "cpu_model": machine.cpu_model,
        "python": machine.python,
        "event_loop": machine.event_loop,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


COLUMNS: list[tuple[str, str, int]] = [
    ("workers", "workers", 7),
    ("requests", "requests", 8),
    ("concurrency", "conc", 4),
    ("wall_s", "wall s", 7),
    ("rps", "req/s", 8),
    ("p50_ms", "p50 ms", 7),
    ("p90_ms", "p90 ms", 7),
    ("p99_ms", "p99 ms", 7),
    ("server_cpu_us_per_req", "srv CPU us/req", 14),
    ("rps_per_server_core", "req/s/core", 10),
    ("server_cores_busy", "srv cores", 9),
    ("client_cpu_us_per_req", "cli CPU us/req", 14),
    ("client_cores_busy", "cli cores", 9),
    ("errors", "errors", 6),
    ("status", "status", 6),
]


def format_table(records: Sequence[dict[str, Any]]) -> Iterator[str]:
    """Yield the lines of a fixed-width results table."""
    yield "  ".join(title.rjust(width) for _, title, width in COLUMNS)
    for record in records:
        cells: list[str] = []
        for key, _, width in COLUMNS:
            if key == "status":
                value: object = "FAILED" if record["failed"] else "ok"
            elif key == "workers" and record["mode"] == "endpoint":
                value = "ext"
            else:
                value = record[key]
            cells.append(("-" if value is None else str(value)).rjust(width))
        yield "  ".join(cells)


def print_header(machine: MachineInfo, out: TextIO) -> None:
    """Print the machine description above the table."""
    print("Strongroom GenerateDataKey load benchmark", file=out)
    print(f"machine : nproc={machine.nproc}, CPU: {machine.cpu_model}", file=out)
    print(f"python  : {machine.python} (client event loop: {machine.event_loop})", file=out)


# --------------------------------------------------------------------------------------------------
# Key creation and server management
# --------------------------------------------------------------------------------------------------


def kms_client(
    endpoint: str, region: str, access_key: str, secret_key: str, session_token: str | None
) -> Any:
    """A KMS client for the endpoint (boto3 when installed, plain botocore otherwise)."""
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 8, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        region_name=region,
    )
    kwargs: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": region,
        "aws_access_key_id": access_key,
        "aws_secret_access_key": secret_key,
        "aws_session_token": session_token,
        "config": config,
    }
    try:
        import boto3
    except ImportError:
        import botocore.session

        return botocore.session.get_session().create_client("kms", **kwargs)
    return boto3.session.Session().client("kms", **kwargs)


def create_symmetric_key(
    endpoint: str, region: str, access_key: str, secret_key: str, session_token: str | None
) -> str:
    """Create a SYMMETRIC_DEFAULT encrypt/decrypt key and return its KeyId."""
    client = kms_client(endpoint, region, access_key, secret_key, session_token)
    try:
        response = client.create_key(
            Description="strongroom GenerateDataKey benchmark",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
        )
        key_id = response["KeyMetadata"]["KeyId"]
    except Exception as exc:  # botocore raises many unrelated exception types
        raise SetupError(f"CreateKey against {endpoint} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            client.close()
    if not isinstance(key_id, str) or not key_id:
        raise SetupError(f"CreateKey returned no KeyId: {response!r}")
    return key_id


def free_port() -> int:
    """Ask the kernel for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def strongroom_command() -> list[str]:
    """The command that runs the ``strongroom`` CLI, preferring this interpreter's environment."""
    beside_python = Path(sys.executable).with_name("strongroom")
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return [str(beside_python)]
    on_path = shutil.which("strongroom")
    if on_path:
        return [on_path]
    return [sys.executable, "-m", "strongroom.cli.main"]


def random_secret(length: int = 40) -> str:
    """A random AWS-style secret access key."""
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def file_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a (possibly large or missing) log file."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - LOG_TAIL_BYTES))
            data = handle.read()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(empty)"


class SpawnedServer:
    """A ``strongroom serve`` process started (and later stopped) by the benchmark."""

    def __init__(
        self, workers: int, secret_key: str, startup_timeout: float, extra_args: Sequence[str]
    ) -> None:
        self.workers = workers
        self.secret_key = secret_key
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"strongroom-bench-w{workers}-"))
        self.data_dir = self.scratch / "data"
        self.data_dir.mkdir()
        self.log_path = self.scratch / "server.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.known_descendants: dict[int, int] = {}  # pid -> start time, for cleanup

    @property
    def endpoint(self) -> str:
        """Base URL of the spawned server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait (bounded) until its port accepts connections."""
        command = [
            *strongroom_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--workers",
            str(self.workers),
            *self.extra_args,
        ]
        env = dict(os.environ)
        env[ENV_ADMIN_ACCESS_KEY_ID] = ADMIN_ACCESS_KEY_ID
        env[ENV_ADMIN_SECRET_ACCESS_KEY] = self.secret_key
        log(f"[workers={self.workers}] starting: {' '.join(command)}")
        log(f"[workers={self.workers}] server log: {self.log_path}")
        with self.log_path.open("wb") as log_file:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.scratch,
                    start_new_session=True,  # Ctrl-C reaches only the benchmark, which then stops the server
                )
            except OSError as exc:
                raise SetupError(f"cannot execute {command[0]}: {exc}") from exc
        self.wait_until_listening()

    def wait_until_listening(self) -> None:
        """Poll the port until it accepts a TCP connection, the process exits, or the timeout passes."""
        assert self.process is not None
        started = time.monotonic()
        deadline = started + self.startup_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise SetupError(
                    f"strongroom serve exited with code {code} before accepting connections; "
                    f"last server output:\n{file_tail(self.log_path)}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    log(
                        f"[workers={self.workers}] port {self.port} open "
                        f"after {time.monotonic() - started:.2f} s"
                    )
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise SetupError(
                    f"strongroom serve did not accept connections on 127.0.0.1:{self.port} within "
                    f"{self.startup_timeout:g} s; last server output:\n{file_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def remember_descendants(self) -> None:
        """Note the current descendants so that orphans can be cleaned up if the server is killed."""
        if self.process is not None:
            for pid, stat in process_tree(self.process.pid).items():
                if pid != self.process.pid:
                    self.known_descendants[pid] = stat.start_time

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the server, SIGKILL it after ``grace`` seconds, clean up orphans and the scratch dir."""
        process = self.process
        if process is not None and process.poll() is None:
            self.remember_descendants()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"[workers={self.workers}] server ignored SIGTERM for {grace:.0f} s, sending SIGKILL")
                process.kill()
                process.wait(timeout=10)
        self.kill_orphans(grace=5.0)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def kill_orphans(self, grace: float) -> None:
        """SIGKILL remembered descendants still alive (same pid *and* start time) after ``grace`` seconds."""
        deadline = time.monotonic() + grace
        while True:
            alive = [
                pid
                for pid, start_time in self.known_descendants.items()
                if (stat := read_proc_stat(pid)) is not None and stat.start_time == start_time
            ]
            if not alive:
                return
            if time.monotonic() >= deadline:
                for pid in alive:
                    log(f"[workers={self.workers}] server child {pid} survived its parent, sending SIGKILL")
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process is not None and self.process.poll() is None


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Parsed command-line settings."""

    requests: int
    warmup: int
    concurrency: int
    workers: list[int]
    presign: int
    endpoint: str | None
    access_key: str | None
    secret_key: str | None
    session_token: str | None
    region: str
    key_id: str | None
    server_pid: int | None
    json_output: bool
    startup_timeout: float
    stall_timeout: float
    server_args: list[str]


def benchmark_target(
    settings: Settings,
    target: Target,
    *,
    workers: int | None,
    mode: str,
    server_pid: int | None,
    machine: MachineInfo,
) -> dict[str, Any]:
    """Warm up and measure one target; return the printed record."""
    tag = f"[workers={workers}]" if workers is not None else "[endpoint]"
    pool = RequestPool(target=target, size=settings.presign)
    with new_runner() as runner:
        if settings.warmup > 0:
            warm = run_phase(
                runner,
                label="warmup",
                target=target,
                pool=pool,
                total=settings.warmup,
                concurrency=settings.concurrency,
                stall_timeout=settings.stall_timeout,
                server_pid=None,
            )
            log(
                f"{tag} warm-up: {warm.ok}/{warm.total} OK in {warm.wall_s:.2f} s "
                f"({warm.ok / (warm.wall_s or float('nan')):.0f} req/s); signing {pool.size} requests took "
                f"{pool.sign_seconds * 1000:.0f} ms"
            )
            if warm.failed:
                log(f"{tag} warm-up FAILED: {warm.first_error or warm.validation_error}")
                warm_record = summarise(
                    warm,
                    workers=workers,
                    mode=mode,
                    machine=machine,
                    presigned=pool.size,
                    warmup=settings.warmup,
                )
                warm_record["phase"] = "warmup"
                return warm_record
        log(f"{tag} measuring {settings.requests} requests at concurrency {settings.concurrency} ...")
        result = run_phase(
            runner,
            label="measure",
            target=target,
            pool=pool,
            total=settings.requests,
            concurrency=settings.concurrency,
            stall_timeout=settings.stall_timeout,
            server_pid=server_pid,
        )
    record = summarise(
        result, workers=workers, mode=mode, machine=machine, presigned=pool.size, warmup=settings.warmup
    )
    record["phase"] = "measure"
    if result.failed:
        log(
            f"{tag} run FAILED: ok={result.ok}/{result.total} non_200={record['non_200']} "
            f"transport_errors={result.transport_errors} stalled={result.stalled}"
        )
        log(f"{tag} first error: {record['first_error']}")
    if result.reconnects:
        log(
            f"{tag} note: {result.reconnects} reconnects ({result.retries} retried requests): the server "
            "closed connections, so keep-alive was not fully in effect and the client paid for TCP handshakes"
        )
    server_us = record["server_cpu_us_per_req"]
    if server_us and record["client_cpu_us_per_req"] > 0.5 * server_us:
        log(f"{tag} note: the client used more than half as much CPU per request as the server")
    return record


def run_spawned(settings: Settings, machine: MachineInfo, emit: Callable[[dict[str, Any]], None]) -> int:
    """Default mode: start ``strongroom serve`` once per worker count and benchmark it."""
    exit_code = EXIT_OK
    secret_key = random_secret()
    for workers in settings.workers:
        server = SpawnedServer(workers, secret_key, settings.startup_timeout, settings.server_args)
        try:
            server.start()
            assert server.process is not None
            key_id = create_symmetric_key(
                server.endpoint, settings.region, ADMIN_ACCESS_KEY_ID, secret_key, None
            )
            log(f"[workers={workers}] created key {key_id}")
            server.remember_descendants()
            target = Target.parse(
                server.endpoint,
                region=settings.region,
                access_key=ADMIN_ACCESS_KEY_ID,
                secret_key=secret_key,
                session_token=None,
                key_id=key_id,
            )
            record = benchmark_target(
                settings,
                target,
                workers=workers,
                mode="spawned",
                server_pid=server.process.pid,
                machine=machine,
            )
            if not server.alive():
                record["failed"] = True
                record["first_error"] = record["first_error"] or "server process exited during the run"
            if record["failed"]:
                exit_code = EXIT_RUN_FAILED
                log(f"[workers={workers}] last server output:\n{file_tail(server.log_path)}")
            emit(record)
        except SetupError as exc:
            log(f"[workers={workers}] SETUP FAILED: {exc}")
            if server.process is not None and "last server output" not in str(exc):
                log(f"[workers={workers}] last server output:\n{file_tail(server.log_path)}")
            return EXIT_SETUP_FAILED
        finally:
            server.stop()
    return exit_code


def run_external(settings: Settings, machine: MachineInfo, emit: Callable[[dict[str, Any]], None]) -> int:
    """``--endpoint`` mode: benchmark an already-running server."""
    assert settings.endpoint is not None and settings.access_key and settings.secret_key
    try:
        key_id = settings.key_id or create_symmetric_key(
            settings.endpoint,
            settings.region,
            settings.access_key,
            settings.secret_key,
            settings.session_token,
        )
        if not settings.key_id:
            log(f"[endpoint] created key {key_id}")
        if settings.server_pid is not None and read_proc_stat(settings.server_pid) is None:
            raise SetupError(f"--server-pid {settings.server_pid}: no such process")
        target = Target.parse(
            settings.endpoint,
            region=settings.region,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            session_token=settings.session_token,
            key_id=key_id,
        )
        record = benchmark_target(
            settings, target, workers=None, mode="endpoint", server_pid=settings.server_pid, machine=machine
        )
    except SetupError as exc:
        log(f"[endpoint] SETUP FAILED: {exc}")
        return EXIT_SETUP_FAILED
    emit(record)
    return EXIT_RUN_FAILED if record["failed"] else EXIT_OK


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def worker_list(text: str) -> list[int]:
    """argparse type: a comma-separated list of positive worker counts."""
    try:
        values = [positive_int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,2 - {exc}") from exc
    if not values:
        raise argparse.ArgumentTypeError("at least one worker count is required")
    return values


def parse_args(argv: Sequence[str] | None) -> Settings:
    """Parse and validate the command line."""
    parser = argparse.ArgumentParser(
        description="Load-benchmark Strongroom's GenerateDataKey (AES_256) with pre-signed requests.",
    )
    parser.add_argument(
        "--requests", type=positive_int, default=50_000, help="measured requests per run [50000]"
    )
    parser.add_argument(
        "--warmup", type=int, default=2_000, help="warm-up requests before each run, 0 = none [2000]"
    )
    parser.add_argument("--concurrency", type=positive_int, default=64, help="keep-alive connections [64]")
    parser.add_argument(
        "--workers", type=worker_list, default=[1, 2], help="server worker counts to spawn [1,2]"
    )
    parser.add_argument(
        "--presign", type=positive_int, default=256, help="distinct pre-signed requests [256]"
    )
    parser.add_argument(
        "--endpoint", help="benchmark this running server (http://host:port) instead of spawning one"
    )
    parser.add_argument("--access-key", help="with --endpoint [$AWS_ACCESS_KEY_ID]")
    parser.add_argument("--secret-key", help="with --endpoint [$AWS_SECRET_ACCESS_KEY]")
    parser.add_argument("--session-token", help="with --endpoint [$AWS_SESSION_TOKEN]")
    parser.add_argument("--region", default="us-east-1", help="SigV4 signing region [us-east-1]")
    parser.add_argument("--key-id", help="with --endpoint: existing key to use [create one]")
    parser.add_argument(
        "--server-pid", type=positive_int, help="with --endpoint: PID to charge server CPU to"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object per line instead of a table"
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=30.0, help="seconds to wait for the port [30]"
    )
    parser.add_argument(
        "--stall-timeout", type=float, default=30.0, help="abort a phase after N idle seconds [30]"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for 'strongroom serve' (repeatable; spawned mode)",
    )
    args = parser.parse_args(argv)
    args.access_key = args.access_key or os.environ.get("AWS_ACCESS_KEY_ID")
    args.secret_key = args.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
    args.session_token = args.session_token or os.environ.get("AWS_SESSION_TOKEN")
    if args.endpoint:
        if not args.access_key or not args.secret_key:
            parser.error(
                "--endpoint needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
            )
    else:
        for option in ("key_id", "server_pid"):
            if getattr(args, option) is not None:
                parser.error(f"--{option.replace('_', '-')} only makes sense with --endpoint")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return Settings(
        requests=args.requests,
        warmup=args.warmup,
        concurrency=args.concurrency,
        workers=args.workers,
        presign=args.presign,
        endpoint=args.endpoint,
        access_key=args.access_key,
        secret_key=args.secret_key,
        session_token=args.session_token if args.endpoint else None,
        region=args.region,
        key_id=args.key_id,
        server_pid=args.server_pid,
        json_output=args.json,
        startup_timeout=args.startup_timeout,
        stall_timeout=args.stall_timeout,
        server_args=args.server_arg,
    )


def raise_system_exit(signum: int, _frame: object) -> None:
    """SIGTERM handler: unwind normally so that a spawned server is stopped and its data dir deleted."""
    log(f"terminated by signal {signum}, cleaning up")
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    settings = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_system_exit)
    machine = machine_info()
    records: list[dict[str, Any]] = []

    def emit(record: dict[str, Any]) -> None:
        records.append(record)
        if settings.json_output:
            print(json.dumps(record), flush=True)

    if not settings.json_output:
        print_header(machine, sys.stdout)
        sys.stdout.flush()
    else:
        log(f"machine: nproc={machine.nproc}, CPU: {machine.cpu_model}; python: {machine.python}")
    try:
        if settings.endpoint:
            exit_code = run_external(settings, machine, emit)
        else:
            exit_code = run_spawned(settings, machine, emit)
    except KeyboardInterrupt:
        log("interrupted")
        exit_code = 130
    if not settings.json_output and records:
        print(
            f"GenerateDataKey AES_256, {settings.presign} pre-signed requests reused round-robin, "
            f"{settings.warmup} warm-up requests per run"
        )
        for line in format_table(records):
            print(line)
        for record in records:
            run = "endpoint" if record["workers"] is None else f"workers={record['workers']}"
            if record["reconnects"]:
                print(
                    f"note ({run}): {record['reconnects']} reconnects - the server closed keep-alive "
                    "connections (e.g. 'Connection: close')"
                )
            if record["failed"]:
                print(f"FAILED ({run}, phase={record['phase']}): {record['first_error']}")
    if exit_code != EXIT_OK:
        log(f"benchmark FAILED (exit code {exit_code})")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
