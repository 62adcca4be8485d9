"""The load driver: phases of pre-signed requests over keep-alive connections on one event loop.

A phase opens ``concurrency`` connections, then every connection sends requests back to back until the
shared request budget is used up.  A watchdog re-signs the request pool before its signatures expire
and aborts the phase if no response arrives for ``stall_timeout`` seconds.  CPU time of the client and
(optionally) of the server's process tree is sampled right before and after the timed part.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from .common import SetupError
from .http1 import Streams, TransportError, exchange, open_stream
from .procstat import own_cpu_seconds, tree_cpu_seconds
from .signing import RequestPool


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
        self, *, label: str, pool: RequestPool, total: int, concurrency: int, stall_timeout: float
    ) -> None:
        self.pool = pool
        self.target = pool.target
        self.total = total
        self.stall_timeout = stall_timeout
        self.result = PhaseResult(label=label, total=total, concurrency=min(concurrency, total))
        self.streams: list[Streams] = []
        self.next_index = 0
        self.validated = False

    async def run(self, server_pid: int | None) -> PhaseResult:
        """Connect, run the timed phase and fill in :attr:`result`; server CPU is that of ``server_pid``."""
        result = self.result
        gc_was_enabled = gc.isenabled()
        try:
            opened = await asyncio.gather(
                *(open_stream(self.target) for _ in range(result.concurrency)), return_exceptions=True
            )
            self.streams = [item for item in opened if not isinstance(item, BaseException)]
            failures = [item for item in opened if isinstance(item, BaseException)]
            if failures:
                raise SetupError(f"cannot connect to {self.target.endpoint}: {failures[0]!r}")
            start = asyncio.Event()
            latencies: list[list[int]] = [[] for _ in self.streams]
            workers = [
                asyncio.create_task(self.worker(slot, start, latencies[slot]))
                for slot in range(len(self.streams))
            ]
            await asyncio.sleep(0)  # let every worker reach start.wait()

            gc.disable()  # no collector pauses in the client during the timed phase
            server_cpu_before = tree_cpu_seconds(server_pid) if server_pid else None
            client_cpu_before = own_cpu_seconds()
            started_ns = time.perf_counter_ns()
            start.set()
            watchdog = asyncio.create_task(self.watchdog(workers))
            await asyncio.gather(*workers, return_exceptions=True)
            result.wall_s = (time.perf_counter_ns() - started_ns) / 1e9
            result.client_cpu_s = own_cpu_seconds() - client_cpu_before
            server_cpu_after = tree_cpu_seconds(server_pid) if server_pid else None
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

            if server_cpu_before is not None and server_cpu_after is not None:
                result.server_cpu_s = server_cpu_after - server_cpu_before
            elif server_pid:
                result.note_error(f"server process {server_pid} disappeared during the run")
            result.latencies_ns = [value for chunk in latencies for value in chunk]
            for worker in workers:
                if not worker.cancelled() and worker.exception() is not None:
                    result.note_error(f"client worker crashed: {worker.exception()!r}")
            return result
        finally:
            if gc_was_enabled:
                gc.enable()
            for _, writer in self.streams:
                writer.close()
            for _, writer in self.streams:
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def watchdog(self, workers: Sequence[asyncio.Task[None]]) -> None:
        """Re-sign the pool before signatures expire and abort the phase if nothing completes for a while."""
        result = self.result
        last_completed = -1
        last_progress = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            if self.pool.refresh_if_old():
                result.resigned += 1
            now = time.monotonic()
            if result.completed != last_completed:
                last_completed = result.completed
                last_progress = now
            elif now - last_progress > self.stall_timeout:
                result.stalled = True
                result.note_error(
                    f"no response for {self.stall_timeout:.0f} s after {result.completed} completed requests"
                )
                for worker in workers:
                    worker.cancel()
                return

    async def worker(self, slot: int, start: asyncio.Event, latencies: list[int]) -> None:
        """Drive connection ``slot`` until the shared request budget is used up."""
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
                status, body, must_close = await self.exchange_with_retry(slot, payload, served)
            except TransportError as exc:
                result.transport_errors += 1
                result.completed += 1
                result.note_error(f"request {index}: {exc}")
                served = 0
                if not await self.reconnect(slot):
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
                if not await self.reconnect(slot):
                    return

    async def exchange_with_retry(self, slot: int, payload: bytes, served: int) -> tuple[int, bytes, bool]:
        """Exchange one request; retry once on a new connection if a reused one was closed while idle."""
        try:
            return await exchange(self.streams[slot], payload)
        except TransportError as exc:
            if served == 0 or exc.response_started:
                raise
            self.result.retries += 1
            if not await self.reconnect(slot):
                raise
        return await exchange(self.streams[slot], payload)

    async def reconnect(self, slot: int) -> bool:
        """Close connection ``slot`` and open a fresh one; ``False`` (worker should stop) if that fails."""
        self.streams[slot][1].close()
        self.result.reconnects += 1
        try:
            self.streams[slot] = await open_stream(self.target)
        except OSError as exc:
            self.result.note_error(f"reconnect failed, client connection {slot} gives up: {exc}")
            return False
        return True


def event_loop_name() -> str:
    """Describe the event loop the client uses."""
    try:
        import uvloop
    except ImportError:
        return "asyncio (uvloop not installed)"
    return f"uvloop {getattr(uvloop, '__version__', '?')}"


class LoadGenerator:
    """Runs load phases from one request pool on one event loop (uvloop when installed); a context manager."""

    def __init__(self, pool: RequestPool, *, concurrency: int, stall_timeout: float) -> None:
        self.pool = pool
        self.concurrency = concurrency
        self.stall_timeout = stall_timeout
        try:
            import uvloop
        except ImportError:
            self.runner = asyncio.Runner()
        else:
            self.runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.runner.close()

    def phase(self, label: str, total: int, server_pid: int | None = None) -> PhaseResult:
        """Sign a fresh pool, then run one phase of ``total`` requests to completion."""
        self.pool.sign()  # a fresh signing window for every phase
        load = LoadRun(
            label=label,
            pool=self.pool,
            total=total,
            concurrency=self.concurrency,
            stall_timeout=self.stall_timeout,
        )
        return self.runner.run(load.run(server_pid))
