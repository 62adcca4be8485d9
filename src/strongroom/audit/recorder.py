"""What the protocol edge talks to: turn an answered request into its summary and hand it to the sink."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from strongroom.audit.events import AuditedCall, ServiceEvent, summarize, summarize_service_event
from strongroom.audit.file_sink import Batch

__all__ = ["AuditRecorder", "AuditSink"]


class AuditSink(Protocol):
    """Where records go: ``submit`` takes a request's summary (:func:`summarize`) and returns the batch
    to wait on until its record is durable."""

    def submit(self, summary: bytes, *, wake: bool = True) -> Batch: ...

    def wake(self) -> None: ...

    def wait_blocking(self, batch: Batch, timeout: float) -> OSError | None:
        """Wait on this thread, without the event loop, until ``batch`` is durable (None) or failed."""
        ...

    @property
    def failing(self) -> bool: ...

    def failed_within(self, seconds: float) -> bool: ...

    def close(self) -> None: ...


class AuditRecorder:
    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    @property
    def failing(self) -> bool:
        return self.sink.failing

    def failed_within(self, seconds: float) -> bool:
        return self.sink.failed_within(seconds)

    def record(
        self,
        call: AuditedCall,
        response: Mapping[str, Any] | None,
        error_code: str | None,
        error_message: str | None,
        *,
        wake: bool = True,
    ) -> Batch:
        return self.sink.submit(summarize(call, response, error_code, error_message), wake=wake)

    def record_service_event(self, event: ServiceEvent) -> Batch:
        """Record something the server did by itself (an automatic rotation); the caller waits."""
        return self.sink.submit(summarize_service_event(event), wake=True)

    def wake(self) -> None:
        self.sink.wake()

    def wait_blocking(self, batch: Batch, timeout: float) -> OSError | None:
        return self.sink.wait_blocking(batch, timeout)

    def close(self) -> None:
        self.sink.close()
