"""The HTTP application: authenticate, route ``X-Amz-Target``, validate, dispatch, answer.

Knows nothing of keys. :meth:`KmsApplication.handle` is server-agnostic; ``__call__`` adapts it to
granian's RSGI (the default server) and :meth:`KmsApplication.asgi` to any ASGI server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from strongroom.errors import (
    KmsError,
    KMSInternalException,
    SerializationException,
    UnknownOperationException,
    UnsupportedOperationException,
)
from strongroom.operations.context import Handler, RequestContext, Services
from strongroom.protocol.sigv4 import SigV4Verifier
from strongroom.protocol.validation import RequestValidator
from strongroom.protocol.wire import RequestIds, Response, error_response, success_response
from strongroom.service.changes import CacheCoordinator
from strongroom.service.keyring import Principal

__all__ = ["KmsApplication"]

log = logging.getLogger("strongroom")

_TARGET_PREFIX = "TrentService."
_SWEEP_INTERVAL_SECONDS = 30.0
# The largest KMS request (a 32 KB policy, JSON-escaped, or an attestation document) is far smaller.
MAX_BODY_BYTES = 1 << 20


class KmsApplication:
    def __init__(
        self,
        *,
        verifier: SigV4Verifier,
        validator: RequestValidator,
        services: Services,
        coordinator: CacheCoordinator,
        operations: Mapping[str, Handler],
        known_operations: frozenset[str],
    ) -> None:
        self._verifier = verifier
        self._validator = validator
        self._services = services
        self._coordinator = coordinator
        self._operations = operations
        self._known = known_operations
        self._ids = RequestIds()

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, client: str = ""
    ) -> Response:
        request_id = self._ids.next()
        try:
            return success_response(
                request_id, self._dispatch(method, path, query, headers, body, client, request_id)
            )
        except KmsError as error:
            return error_response(request_id, error)
        except Exception:
            log.exception("internal error handling request %s", request_id)
            return error_response(request_id, KMSInternalException("An internal error occurred."))

    def _dispatch(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        client: str,
        request_id: str,
    ) -> dict[str, Any] | None:
        self._coordinator.refresh()  # before authenticating: a deleted access key must fail at once
        caller = self._verifier.authenticate(method, path, query, headers, body)
        target = headers.get("x-amz-target") or ""
        operation = target[len(_TARGET_PREFIX) :] if target.startswith(_TARGET_PREFIX) else ""
        handler = self._operations.get(operation)
        if handler is None:
            if operation in self._known:
                raise UnsupportedOperationException(f"{operation} is not supported by Strongroom yet.")
            raise UnknownOperationException(f"Unknown operation {target!r}")
        if method != "POST":
            raise UnknownOperationException(f"Unsupported HTTP method {method}")
        try:
            raw = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise SerializationException("Request body is not valid JSON") from None
        if not isinstance(raw, dict):
            raise SerializationException("Request body must be a JSON object")
        params = self._validator.validate(operation, raw)
        context = RequestContext(
            request_id=request_id,
            operation=operation,
            principal=Principal(caller.account_id, caller.region, caller.principal_arn),
            access_key_id=caller.access_key_id,
            source_ip=client,
            user_agent=headers.get("user-agent") or "",
        )
        return handler(context, self._services, params)

    def too_large(self) -> Response:
        """Refuse a body over :data:`MAX_BODY_BYTES`. It is read to the end but not kept, so the client
        gets this answer rather than a connection reset while it is still sending."""
        error = SerializationException(f"Request body is larger than {MAX_BODY_BYTES} bytes")
        status, headers, payload = error_response(self._ids.next(), error)
        return 413, headers, payload

    # -- periodic work --------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Purge keys whose deletion window has passed (also done on sight by every lookup)."""
        try:
            self._coordinator.refresh()
            purged = self._services.keys.purge_expired()
            if purged:
                log.info("purged %d key(s) whose deletion window had passed", purged)
        except Exception:
            log.exception("deletion sweep failed")

    def _schedule_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        def tick() -> None:
            self.sweep()
            loop.call_later(_SWEEP_INTERVAL_SECONDS, tick)

        loop.call_later(_SWEEP_INTERVAL_SECONDS, tick)

    # -- RSGI (granian) --------------------------------------------------------------------------------
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._schedule_sweep(loop)

    async def __call__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        # One conversion: every lookup on granian's header object crosses into Rust.
        headers = dict(scope.headers.items())
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) <= MAX_BODY_BYTES:
            body = await proto()  # the common case: one read, done in Rust
        else:
            body = await _read_bounded(proto)
        if body is None:
            status, response_headers, payload = self.too_large()
        else:
            status, response_headers, payload = self.handle(
                scope.method, scope.path, scope.query_string, headers, body, _host_of(scope.client)
            )
        proto.response_bytes(status, response_headers, payload)

    # -- ASGI (uvicorn, hypercorn, granian --interface asgi) -------------------------------------------
    async def asgi(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        if size > MAX_BODY_BYTES:
            status, response_headers, payload = self.too_large()
        else:
            client = scope.get("client") or ("", 0)
            status, response_headers, payload = self.handle(
                scope["method"],
                scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/",
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                b"".join(chunks),
                str(client[0]),
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _read_bounded(proto: Any) -> bytes | None:
    """The body, streamed; None (after draining the rest) if it is over :data:`MAX_BODY_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
    return b"".join(chunks) if size <= MAX_BODY_BYTES else None


def _host_of(peer: str) -> str:
    """granian gives the peer as ``host:port`` (``[v6]:port`` or ``v6:port``); aws:SourceIp wants the host."""
    host = peer.rsplit(":", 1)[0] if ":" in peer else peer
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host
