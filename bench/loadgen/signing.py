"""Credentials, the benchmarked endpoint, key creation and the pool of pre-signed requests.

Signing costs far more client CPU than sending, so a pool of distinct ``GenerateDataKey`` requests is
SigV4-signed before each timed phase and serialised to raw HTTP/1.1 bytes once.  A SigV4 signature is
accepted for a few minutes only, so the pool is re-signed once it is :data:`RESIGN_AFTER_S` old.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from .common import SetupError

TARGET = "TrentService.GenerateDataKey"
CONTENT_TYPE = "application/x-amz-json-1.1"
SERVICE = "kms"

RESIGN_AFTER_S = 240.0
"""Re-sign the request pool once it is this old (SigV4 signatures are honoured for ~5 minutes)."""


@dataclass(frozen=True)
class Account:
    """Who signs the requests, and for which region."""

    region: str
    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Target:
    """Where to send the load, with which credentials, for which key."""

    endpoint: str
    host: str
    port: int
    tls: bool
    host_header: str
    path: str
    account: Account
    key_id: str

    @classmethod
    def parse(cls, endpoint: str, account: Account, key_id: str) -> Target:
        """Build a target from an ``http(s)://host[:port][/path]`` endpoint URL."""
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SetupError(f"endpoint must be an http:// or https:// URL, got {endpoint!r}")
        tls = parts.scheme == "https"
        return cls(
            endpoint=endpoint,
            host=parts.hostname,
            port=parts.port or (443 if tls else 80),
            tls=tls,
            host_header=parts.netloc,
            path=parts.path or "/",
            account=account,
            key_id=key_id,
        )


def create_symmetric_key(endpoint: str, account: Account, materials: int = 1) -> str:
    """Create a SYMMETRIC_DEFAULT encrypt/decrypt key through botocore and return its KeyId; with
    ``materials`` > 1, rotate it on demand until it has that many key material versions."""
    config = Config(
        retries={"max_attempts": 8, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        region_name=account.region,
    )
    client: Any = botocore.session.get_session().create_client(
        "kms",
        endpoint_url=endpoint,
        region_name=account.region,
        aws_access_key_id=account.access_key,
        aws_secret_access_key=account.secret_key,
        aws_session_token=account.session_token,
        config=config,
    )
    try:
        response = client.create_key(
            Description="strongroom GenerateDataKey benchmark",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
        )
        key_id = response["KeyMetadata"]["KeyId"]
        for _ in range(materials - 1):
            client.rotate_key_on_demand(KeyId=key_id)
    except Exception as exc:  # botocore raises many unrelated exception types
        raise SetupError(f"CreateKey against {endpoint} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            client.close()
    if not isinstance(key_id, str) or not key_id:
        raise SetupError(f"CreateKey returned no KeyId: {response!r}")
    return key_id


def sign_requests(target: Target, count: int, generation: int) -> list[bytes]:
    """SigV4-sign ``count`` distinct GenerateDataKey requests and return them as raw HTTP/1.1 bytes.

    Each request carries a different EncryptionContext value so that the server cannot serve them from
    a cache of identical requests.
    """
    account = target.account
    signer = SigV4Auth(
        Credentials(account.access_key, account.secret_key, account.session_token), SERVICE, account.region
    )
    url = f"{'https' if target.tls else 'http'}://{target.host_header}{target.path}"
    headers = {"Host": target.host_header, "Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET}
    payloads: list[bytes] = []
    for index in range(count):
        document = {
            "KeyId": target.key_id,
            "KeySpec": "AES_256",
            "EncryptionContext": {"purpose": "strongroom-bench", "request": f"g{generation}-r{index:05d}"},
        }
        body = json.dumps(document, separators=(",", ":")).encode()
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
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
