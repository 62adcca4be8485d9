"""Over HTTP: a signature must cover X-Amz-Target (and every other x-amz-* header), or the request is
refused before the operation it names is even looked at."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import RunningServer
from tests.integration.signing import call, signed_headers


def test_a_signature_that_does_not_cover_the_target_is_refused(server: RunningServer, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id}).encode()
    headers = signed_headers(server.endpoint, "DescribeKey", body, unsigned=frozenset({"x-amz-target"}))
    assert "x-amz-target" not in headers["Authorization"]
    refusal = (
        400,
        {
            "__type": "InvalidSignatureException",
            "message": "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
        },
    )
    assert call(server.endpoint, "DescribeKey", body, headers) == refusal
    # The attack: the same captured request with the target changed. Nothing happens to the key.
    headers["X-Amz-Target"] = "TrentService.DisableKey"
    assert call(server.endpoint, "DisableKey", body, headers) == refusal
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True
    # Signed as botocore signs (content-type, host, x-amz-date, x-amz-target), the same request passes.
    status, answer = call(server.endpoint, "DescribeKey", body)
    assert status == 200 and answer["KeyMetadata"]["KeyId"] == key_id
    # Content-Type need not be signed.
    relaxed = signed_headers(server.endpoint, "DescribeKey", body, unsigned=frozenset({"content-type"}))
    assert call(server.endpoint, "DescribeKey", body, relaxed)[0] == 200
