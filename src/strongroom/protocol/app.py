"""The HTTP application: authenticate, route ``X-Amz-Target``, validate, dispatch, answer.

Knows nothing of keys. :meth:`KmsApplication.handle` is server-agnostic; :meth:`KmsApplication.asgi`
adapts it to ASGI (uvicorn, in :mod:`strongroom.server.worker`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from strongroom.audit.events import AuditedCall
from strongroom.audit.file_sink import Batch
from strongroom.audit.recorder import AuditRecorder
from strongroom.errors import (
    KmsError,
    KMSInternalException,
    SerializationException,
    UnknownOperationException,
    UnsupportedOperationException,
)
from strongroom.observability.health import HealthChecks
from strongroom.observability.logs import REQUEST_ID
from strongroom.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from strongroom.observability.metrics import Metrics
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Catalog
from strongroom.protocol.json_body import parse_request_json
from strongroom.protocol.sigv4 import SigV4Verifier
from strongroom.protocol.validation import RequestValidator
from strongroom.protocol.wire import RequestIds, Response, error_response, success_response
from strongroom.service.changes import CacheCoordinator
from strongroom.service.keyring import Principal
from strongroom.service.rotation_scheduler import RotationScheduler
from strongroom.storage.transactions import UnitOfWork

__all__ = ["KmsApplication"]

log = logging.getLogger("strongroom")

_TARGET_PREFIX = "TrentService."
_SWEEP_INTERVAL_SECONDS = 30.0
# The largest KMS request (a 32 KB policy, JSON-escaped, or an attestation document) is far smaller.
MAX_BODY_BYTES = 1 << 20
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")
_UNRECORDED = "The request could not be recorded in the audit trail."
_OBSERVABILITY_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_CACHE_SYNC_SECONDS = 1.0
#: How long a change waits for its record before it is rolled back instead of committed.
_RECORD_TIMEOUT_SECONDS = 10.0
_INTERNAL = "An internal error occurred."


class KmsApplication:
    def __init__(
        self,
        *,
        verifier: SigV4Verifier,
        validator: RequestValidator,
        services: Services,
        coordinator: CacheCoordinator,
        catalog: Catalog,
        known_operations: frozenset[str],
        audit: AuditRecorder | None = None,
        metrics: Metrics | None = None,
        health: HealthChecks | None = None,
        transactions: Callable[[], AbstractContextManager[UnitOfWork]] | None = None,
        volume_full: Callable[[], bool] | None = None,
        rotations: RotationScheduler | None = None,
    ) -> None:
        self._verifier = verifier
        self._validator = validator
        self._services = services
        self._coordinator = coordinator
        self._catalog = catalog
        self._operations = catalog.handlers
        self._known = known_operations
        self._ids = RequestIds()
        self._audit = audit
        self._wake_scheduled = False
        self._metrics = metrics
        self._health = health
        self._transactions = transactions
        self._volume_full = volume_full
        self._rotations = rotations

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, client: str = ""
    ) -> Response:
        """Answer one request, waiting (blocking) until its audit record is durable."""
        started = time.perf_counter()
        special = self.observability(method, path)
        if special is not None:
            return special
        response, pending = self.respond(method, path, query, headers, body, client)
        if pending is not None:
            response = self._after_audit(response, pending.wait())
        self._observe(headers, response, started)
        return response

    def observability(self, method: str, path: str) -> Response | None:
        """``/healthz``, ``/readyz`` and ``/metrics`` (GET, no SigV4, no audit record); None otherwise."""
        if method != "GET" or path not in _OBSERVABILITY_PATHS:
            return None
        if path == "/metrics":
            if self._metrics is None:
                return 404, [("content-type", "text/plain")], b"metrics are off\n"
            return 200, [("content-type", METRICS_CONTENT_TYPE)], self._metrics.exposition()
        if self._health is None:
            return 200, [("content-type", "application/json")], b'{"status":"ok"}'
        status, payload = self._health.live() if path == "/healthz" else self._health.ready()
        return status, [("content-type", "application/json")], payload

    def _observe(self, headers: Mapping[str, str], response: Response, started: float) -> None:
        if self._metrics is None:
            return
        code = "OK"
        if response[0] != 200:
            code = next((v for k, v in response[1] if k == "x-amzn-errortype"), str(response[0]))
        operation = _operation_of(headers) or "Unknown"
        seconds = time.perf_counter() - started
        self._metrics.observe_request(operation, code, seconds)
        if log.isEnabledFor(logging.INFO):
            request_id = next((v for k, v in response[1] if k == "x-amzn-requestid"), "")
            log.info(
                "answered",
                extra={
                    "request_id": request_id,
                    "operation": operation,
                    "code": code,
                    "ms": round(seconds * 1e3, 3),
                },
            )

    def respond(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        client: str = "",
        *,
        wake: bool = True,
    ) -> tuple[Response, Batch | None]:
        """The response, and the audit batch that must be durable before it is sent (None: audit off).

        ``wake=False``: the caller wakes the audit writer itself (see :meth:`_wake_writer_soon`)."""
        request_id = self._ids.next()
        token = REQUEST_ID.set(request_id)
        try:
            return self._respond(request_id, method, path, query, headers, body, client, wake)
        except Exception:  # a last resort: the answer is still AWS's JSON error with a request id
            log.exception("internal error answering request %s", request_id)
            return error_response(request_id, KMSInternalException(_INTERNAL)), None
        finally:
            REQUEST_ID.reset(token)

    def _wake_writer_soon(self) -> None:
        """Wake the audit sink once, after the event loop's current turn: the records of every request
        handled in this turn then go out in one batch (one send to the writer process)."""
        if self._wake_scheduled or self._audit is None:
            return
        self._wake_scheduled = True
        asyncio.get_running_loop().call_soon(self._wake_writer)

    def _wake_writer(self) -> None:
        self._wake_scheduled = False
        if self._audit is not None:
            self._audit.wake()

    def _respond(
        self,
        request_id: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        client: str,
        wake: bool,
    ) -> tuple[Response, Batch | None]:
        call = AuditedCall(request_id, time.time(), client, headers.get("user-agent") or "")
        call.body_bytes = len(body)
        operation = _operation_of(headers)
        read_only = call.read_only = self._catalog.is_read_only(operation)
        call.secret_members = self._catalog.secret_members(operation)
        if self._audit is None or self._transactions is None or read_only:
            return self._record(call, headers, *self._run(method, path, query, headers, body, call), wake)
        # A change: its writes wait in one transaction until its record is durable (module docstring).
        with self._transactions() as unit:
            result, error, response = self._run(method, path, query, headers, body, call)
            if not unit.wrote:
                unit.rollback()
                return self._record(call, headers, result, error, response, wake)
            if error is not None:  # a failed call leaves no trace in the store
                unit.rollback()
                self._coordinator.flush_local()
                return self._record(call, headers, result, error, response, wake)
            return self._record_then_commit(call, headers, result, response, unit), None

    def _run(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        call: AuditedCall,
    ) -> tuple[dict[str, Any] | None, KmsError | None, Response]:
        """Dispatch the request: (its result, or the error it failed with, and the response)."""
        try:
            result = self._dispatch(method, path, query, headers, body, call)
            return result, None, success_response(call.request_id, result)
        except KmsError as failure:
            return None, failure, error_response(call.request_id, failure)
        except Exception:
            log.exception("internal error handling request %s", call.request_id)
            error = KMSInternalException(_INTERNAL)
            return None, error, error_response(call.request_id, error)

    def _complete(self, call: AuditedCall, headers: Mapping[str, str]) -> None:
        """What the record of a request that failed before it got this far still needs."""
        if not call.operation:
            call.operation = _operation_of(headers)
        if not call.access_key_id:
            _credential_of(headers, call)

    def _record(
        self,
        call: AuditedCall,
        headers: Mapping[str, str],
        result: dict[str, Any] | None,
        error: KmsError | None,
        response: Response,
        wake: bool,
    ) -> tuple[Response, Batch | None]:
        """Hand the record to the audit sink; the response is sent once the batch is durable."""
        if self._audit is None:
            return response, None
        self._complete(call, headers)
        try:
            pending = self._audit.record(
                call, result, error.code if error else None, error.message if error else None, wake=wake
            )
        except Exception:
            log.exception("cannot record request %s in the audit trail", call.request_id)
            return error_response(call.request_id, KMSInternalException(_UNRECORDED)), None
        return response, pending

    def _record_then_commit(
        self,
        call: AuditedCall,
        headers: Mapping[str, str],
        result: dict[str, Any] | None,
        response: Response,
        unit: UnitOfWork,
    ) -> Response:
        """Commit the change only once its record is durable; otherwise roll it back.

        This blocks the event loop for one group commit of the trail: only changes (control-plane
        calls) take this path, and holding the store's transaction open across an ``await`` would let
        the worker's other requests see uncommitted rows."""
        assert self._audit is not None
        self._complete(call, headers)
        try:
            pending = self._audit.record(call, result, None, None, wake=True)
            failure = self._audit.wait_blocking(pending, _RECORD_TIMEOUT_SECONDS)
        except Exception as error:
            log.exception("cannot record request %s in the audit trail", call.request_id)
            failure = OSError(str(error))
        if failure is not None:
            unit.rollback()
            self._coordinator.flush_local()
            return self._after_audit(response, failure)
        try:
            unit.commit()
        except Exception:
            # Recorded, but not done: the answer says so, and the next request sees the old state.
            log.exception("cannot commit request %s after recording it", call.request_id)
            self._coordinator.flush_local()
            return error_response(call.request_id, KMSInternalException(_INTERNAL))
        return response

    def _after_audit(self, response: Response, failure: OSError | None) -> Response:
        """The response once its record is durable; KMSInternalException if it could not be written."""
        if failure is None:
            return response
        request_id = dict(response[1]).get("x-amzn-requestid", "")
        log.error("audit trail write failed, request %s answered with an error: %s", request_id, failure)
        return error_response(request_id, KMSInternalException(_UNRECORDED))

    def _dispatch(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        call: AuditedCall,
    ) -> dict[str, Any] | None:
        self._coordinator.refresh()  # before authenticating: a deleted access key must fail at once
        call.operation = _operation_of(headers)
        if self._audit is not None and self._volume_full is not None and self._volume_full():
            # Its record may not fit (and a change would be rolled back): fail fast, before acting.
            raise KMSInternalException(_UNRECORDED)
        caller = self._verifier.authenticate(method, path, query, headers, body)
        call.access_key_id, call.account_id = caller.access_key_id, caller.account_id
        call.principal_arn, call.region = caller.principal_arn, caller.region
        target = headers.get("x-amz-target") or ""
        operation = call.operation
        handler = self._operations.get(operation)
        if handler is None:
            if operation in self._known:
                raise UnsupportedOperationException(f"{operation} is not supported by Strongroom yet.")
            raise UnknownOperationException(f"Unknown operation {target!r}")
        if method != "POST":
            raise UnknownOperationException(f"Unsupported HTTP method {method}")
        raw = parse_request_json(body)
        call.parameters = self._validator.recordable(operation, raw)
        params = self._validator.validate(operation, raw)
        context = RequestContext(
            request_id=call.request_id,
            operation=operation,
            principal=Principal(caller.account_id, caller.region, caller.principal_arn),
            access_key_id=caller.access_key_id,
            source_ip=call.source_ip,
            user_agent=call.user_agent,
            resolved_keys=call.key_arns,
        )
        return handler(context, self._services, params)

    def too_large(self, headers: Mapping[str, str], client: str = "") -> tuple[Response, Batch | None]:
        """Refuse a body over :data:`MAX_BODY_BYTES`. It is read to the end but not kept, so the client
        gets this answer rather than a connection reset while it is still sending."""
        error = SerializationException(f"Request body is larger than {MAX_BODY_BYTES} bytes")
        request_id = self._ids.next()
        status, response_headers, payload = error_response(request_id, error)
        if self._audit is None:
            return (413, response_headers, payload), None
        call = AuditedCall(request_id, time.time(), client, headers.get("user-agent") or "")
        call.operation = _operation_of(headers)
        call.read_only = self._catalog.is_read_only(call.operation)
        call.secret_members = self._catalog.secret_members(call.operation)
        _credential_of(headers, call)
        return (413, response_headers, payload), self._audit.record(call, None, error.code, error.message)

    def close(self) -> None:
        """Write what the audit trail still holds (at shutdown)."""
        if self._audit is not None:
            self._audit.close()

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

    def rotate_due(self) -> None:
        """Rotate the keys whose automatic rotation date has passed (on the injected clock)."""
        if self._rotations is None:
            return
        try:
            self._coordinator.refresh()
            rotated = self._rotations.run()
            if rotated:
                log.info("rotated %d key(s) whose rotation date had passed", rotated)
        except Exception:
            log.exception("rotation pass failed")

    def start_background_work(self, loop: asyncio.AbstractEventLoop) -> None:
        """The periodic deletion sweep and automatic rotation, and cache-metrics publication, on the
        worker's event loop. Rotation also runs once now, before the worker takes its first request, so
        that a key due while the server was down is rotated before anyone uses it."""
        self.rotate_due()

        def tick() -> None:
            self.sweep()
            self.rotate_due()
            loop.call_later(_SWEEP_INTERVAL_SECONDS, tick)

        loop.call_later(_SWEEP_INTERVAL_SECONDS, tick)
        metrics = self._metrics
        if metrics is None:
            return

        def sync() -> None:
            try:
                metrics.sync_caches()
            except Exception:
                log.exception("cannot publish cache metrics")
            loop.call_later(_CACHE_SYNC_SECONDS, sync)

        loop.call_later(_CACHE_SYNC_SECONDS, sync)

    # -- ASGI (uvicorn) -------------------------------------------------------------------------------
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
        started = time.perf_counter()
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
        client = str((scope.get("client") or ("", 0))[0])
        path = scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/"
        special = self.observability(scope["method"], path)
        if special is not None:
            response: Response = special
        else:
            if size > MAX_BODY_BYTES:
                response, pending = self.too_large(headers, client)
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                response, pending = self.respond(
                    scope["method"], path, query, headers, b"".join(chunks), client, wake=False
                )
            if pending is not None:
                self._wake_writer_soon()
                response = self._after_audit(response, await pending.wait_async())
            self._observe(headers, response, started)
        status, response_headers, payload = response
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _operation_of(headers: Mapping[str, str]) -> str:
    target = headers.get("x-amz-target") or ""
    return target[len(_TARGET_PREFIX) :] if target.startswith(_TARGET_PREFIX) else ""


def _credential_of(headers: Mapping[str, str], call: AuditedCall) -> None:
    """The access key id and region a request claims, for the record of one that failed authentication."""
    match = _CREDENTIAL.search(headers.get("authorization") or "")
    if match is not None:
        call.access_key_id, call.region = match.group(1)[:128], match.group(2)[:64]
