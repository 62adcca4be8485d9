"""What the protocol edge talks to: turn an answered request into its event and hand it to the sink."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from strongroom.audit.events import AuditedCall, build_event, encode_event
from strongroom.audit.file_sink import Batch

__all__ = ["AuditRecorder", "AuditSink"]


class AuditSink(Protocol):
    """Where records go: ``submit`` returns the batch to wait on until the record is durable."""

    def submit(self, event: bytes, *, wake: bool = True) -> Batch: ...

    def wake(self) -> None: ...

    @property
    def failing(self) -> bool: ...

    def close(self) -> None: ...


class AuditRecorder:
    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    @property
    def failing(self) -> bool:
        return self.sink.failing

    def record(
        self,
        call: AuditedCall,
        response: Mapping[str, Any] | None,
        error_code: str | None,
        error_message: str | None,
        *,
        wake: bool = True,
    ) -> Batch:
        event = encode_event(build_event(call, response, error_code, error_message))
        return self.sink.submit(event, wake=wake)

    def wake(self) -> None:
        self.sink.wake()

    def close(self) -> None:
        self.sink.close()
