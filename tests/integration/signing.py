"""Raw signed requests for what boto3 would refuse to send: a body it would not build, a header left out
of the signature."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY

__all__ = ["SignerLeavingOut", "call", "signed_headers"]


class SignerLeavingOut(SigV4Auth):
    """botocore's signer, except that ``left_out`` headers are sent but not signed (a hand-rolled or
    broken client)."""

    def __init__(
        self, credentials: Credentials, region: str, left_out: frozenset[str], service: str = "kms"
    ) -> None:
        super().__init__(credentials, service, region)
        self._left_out = left_out

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        for name in self._left_out:
            del headers[name]
        return headers


def signed_headers(
    endpoint: str,
    target: str,
    body: bytes,
    *,
    key: str = ADMIN_ACCESS_KEY,
    secret: str = ADMIN_SECRET_KEY,
    unsigned: frozenset[str] = frozenset(),
    region: str = "us-east-1",
    service: str = "kms",
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{target}"},
    )
    SignerLeavingOut(Credentials(key, secret), region, unsigned, service).add_auth(request)
    return dict(request.headers.items())


def call(
    endpoint: str, target: str, body: bytes, headers: dict[str, str] | None = None, **signing: Any
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` for ``target`` (signed as the admin unless told otherwise): (status, JSON answer)."""
    sent = headers if headers is not None else signed_headers(endpoint, target, body, **signing)
    request = urllib.request.Request(endpoint + "/", data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read() or b"{}")
