"""The ASGI adapter (what uvicorn runs) drives the application: round trips, errors, lifespan."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.bootstrap import build_application, initialize
from strongroom.config import DataDir, ServerConfig
from strongroom.protocol.app import MAX_BODY_BYTES


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STRONGROOM_ADMIN_ACCESS_KEY_ID", "AKIAASGITEST")
    monkeypatch.setenv("STRONGROOM_ADMIN_SECRET_ACCESS_KEY", "asgi-secret")
    initialize(DataDir(tmp_path / "data"), None)
    return build_application(ServerConfig(data_dir=tmp_path / "data"))


def call(app: Any, target: str, body: bytes, chunks: int = 1) -> tuple[int, dict[str, str], bytes]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials("AKIAASGITEST", "asgi-secret"), "kms", "us-east-1").add_auth(request)
    size = max(1, len(body) // chunks)
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "raw_path": b"/",
        "query_string": b"",
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
        + [(b"host", b"127.0.0.1:4599")],
    }
    asyncio.run(app.asgi(scope, receive, send))
    start, body_message = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body_message["body"]


def test_round_trip_over_asgi(app):  # type: ignore[no-untyped-def]
    status, headers, body = call(app, "TrentService.CreateKey", b'{"Description": "asgi"}', chunks=3)
    assert status == 200 and headers["content-type"] == "application/x-amz-json-1.1"
    key_id = orjson.loads(body)["KeyMetadata"]["KeyId"]
    status, _, body = call(
        app, "TrentService.GenerateDataKey", orjson.dumps({"KeyId": key_id, "KeySpec": "AES_256"})
    )
    assert status == 200 and orjson.loads(body)["KeyId"].endswith(key_id)


def test_errors_over_asgi(app):  # type: ignore[no-untyped-def]
    status, headers, body = call(app, "TrentService.DescribeKey", b'{"KeyId": "fake-key-id"}')
    assert status == 400 and headers["x-amzn-errortype"] == "NotFoundException"
    assert orjson.loads(body) == {"__type": "NotFoundException", "message": "Invalid keyId 'fake-key-id'"}
    status, _, _ = call(app, "TrentService.ListKeys", b" " * (MAX_BODY_BYTES + 1), chunks=4)
    assert status == 413


def test_lifespan(app):  # type: ignore[no-untyped-def]
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app.asgi({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
