"""The worker's channel to the audit writer process carries batches of any size, under an event loop
(non-blocking socket, an outbox drained as the socket allows) and without one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop

from strongroom.audit.chain import parse_line
from strongroom.audit.events import AuditedCall, summarize
from strongroom.audit.remote_sink import RemoteAuditSink
from strongroom.audit.writer import WriterProcess


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[WriterProcess]:
    process = WriterProcess(tmp_path / "audit")
    process.start()
    yield process
    process.stop()


def summary(n: int, size: int) -> bytes:
    call = AuditedCall(f"req-{n}", 0.0, "127.0.0.1", "agent", "CreateKey", "us-east-1")
    call.parameters = {"Description": "d" * size}
    return summarize(call, None, "ValidationException", None)


def trail(directory: Path) -> list[dict[str, object]]:
    lines = b"".join(p.read_bytes() for p in sorted(directory.glob("trail-*.jsonl")))
    return [orjson.loads(parse_line(line).event) for line in lines.splitlines(keepends=True)]


Runner = Callable[[Coroutine[Any, Any, Any]], Any]
#: The workers run uvloop, whose add_reader makes the socket non-blocking; asyncio's does not.
RUNNERS = pytest.mark.parametrize("run_loop", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])


@RUNNERS
def test_a_batch_far_larger_than_the_socket_buffer_goes_out_whole(
    writer: WriterProcess, run_loop: Runner
) -> None:
    sink = RemoteAuditSink(writer.name)

    async def run() -> list[OSError | None]:
        batches = [sink.submit(summary(n, 60_000), wake=False) for n in range(40)]  # ~2.4 MB in one send
        sink.wake()
        return [await batch.wait_async() for batch in dict.fromkeys(batches)]

    assert run_loop(run()) == [None]
    assert [event["requestID"] for event in trail(writer.directory)] == [f"req-{n}" for n in range(40)]
    sink.close()


@RUNNERS
def test_waiting_without_the_event_loop_while_it_runs(writer: WriterProcess, run_loop: Runner) -> None:
    sink = RemoteAuditSink(writer.name)

    async def run() -> tuple[OSError | None, OSError | None]:
        earlier = sink.submit(summary(0, 10), wake=False)  # another request of the same turn
        sink.wake()
        big = sink.submit(summary(1, 90_000), wake=False)
        blocking = sink.wait_blocking(big, 10.0)  # what a change does before it commits
        return blocking, await earlier.wait_async()

    assert run_loop(run()) == (None, None)
    assert len(trail(writer.directory)) == 2
    sink.close()


def test_without_an_event_loop_submit_waits(writer: WriterProcess) -> None:
    sink = RemoteAuditSink(writer.name)
    batch = sink.submit(summary(0, 250_000))
    assert batch.done and batch.error is None
    sink.close()


def test_an_unreachable_writer_fails_the_batch() -> None:
    sink = RemoteAuditSink("strongroom-audit-no-such-writer")
    batch = sink.submit(summary(0, 10))
    assert batch.done and isinstance(batch.error, OSError) and sink.failing


def test_bytes_that_are_no_summary_are_recorded_without_failing_the_others(writer: WriterProcess) -> None:
    sink = RemoteAuditSink(writer.name)

    async def run() -> OSError | None:
        sink.submit(summary(0, 10), wake=False)
        sink.submit(b"not a summary", wake=False)
        batch = sink.submit(summary(2, 10), wake=False)
        sink.wake()
        return await batch.wait_async()

    assert asyncio.run(run()) is None
    events = trail(writer.directory)
    assert [e["requestID"] for e in events] == ["req-0", "unknown", "req-2"]
    assert events[1]["omitted"] is True and events[1]["errorCode"] == "KMSInternalException"
    sink.close()
