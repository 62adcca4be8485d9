"""A minimal HTTP/1.1 client exchange on raw asyncio streams.

The timed phase only writes pre-serialised request bytes and parses the response head and body, which
keeps the client's CPU cost per request far below the server's.
"""

from __future__ import annotations

import asyncio
import ssl

from .signing import Target

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class TransportError(Exception):
    """The connection failed before a complete response was read."""

    def __init__(self, message: str, *, response_started: bool) -> None:
        super().__init__(message)
        self.response_started = response_started


async def open_stream(target: Target) -> Streams:
    """Open one connection to the target (TCP_NODELAY is set by asyncio/uvloop for TCP sockets)."""
    if not target.tls:
        return await asyncio.open_connection(target.host, target.port)
    return await asyncio.open_connection(
        target.host, target.port, ssl=ssl.create_default_context(), server_hostname=target.host
    )


def header_value(lowered_head: bytes, name: bytes) -> bytes | None:
    """Return the value of header ``name`` (lower-case, with a leading CRLF and trailing colon)."""
    start = lowered_head.find(name)
    if start < 0:
        return None
    start += len(name)
    return lowered_head[start : lowered_head.find(b"\r\n", start)].strip()


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


async def exchange(streams: Streams, payload: bytes) -> tuple[int, bytes, bool]:
    """Send one raw request and read its response; return ``(status, body, connection_must_close)``."""
    reader, writer = streams
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
