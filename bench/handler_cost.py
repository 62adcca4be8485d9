#!/usr/bin/env python3
"""CPU cost of Strongroom's request handling without HTTP: SigV4, validation, dispatch, crypto, JSON.

The HTTP benchmark (``gdk_load.py``) measures the whole server. This one calls
``KmsApplication.handle`` directly in one process, with pre-signed requests, so the Python-side cost
of each operation can be tracked on its own, without network or scheduler noise.

    python bench/handler_cost.py [--requests 50000]

Each operation is timed twice: signed by the account root (the default key policy allows it directly)
and by an IAM user, whose identity policy must also be evaluated (the default key policy delegates to
IAM), with a condition on the encryption context. The difference is the cost of authorization.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIAHANDLERBENCH0001"
SECRET_KEY = "handler-bench-secret-key-0123456789abcdef"


def signed(
    target: str, body: bytes, credentials: tuple[str, str] = (ACCESS_KEY, SECRET_KEY)
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(*credentials), "kms", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers.update({"host": "127.0.0.1:4599", "content-length": str(len(body)), "user-agent": "Boto3/1.43"})
    return headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()

    os.environ["STRONGROOM_ADMIN_ACCESS_KEY_ID"] = ACCESS_KEY
    os.environ["STRONGROOM_ADMIN_SECRET_ACCESS_KEY"] = SECRET_KEY
    from strongroom.bootstrap import build_application, initialize
    from strongroom.config import DataDir, ServerConfig

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        initialize(DataDir(data), None)
        user = _iam_user(data)
        app = build_application(ServerConfig(data_dir=data, audit=False))  # the handler alone
        status, _, body = app.handle("POST", "/", "", signed("TrentService.CreateKey", b"{}"), b"{}")
        key_id = orjson.loads(body)["KeyMetadata"]["KeyId"]
        blob = orjson.loads(
            app.handle(
                "POST", "/", "", *_pair("TrentService.Encrypt", {"KeyId": key_id, "Plaintext": "AAAA" * 8})
            )[2]
        )["CiphertextBlob"]
        cases = {
            "GenerateDataKey": {"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": {"n": "{i}"}},
            "Encrypt": {"KeyId": key_id, "Plaintext": "AAAA" * 8, "EncryptionContext": {}},
            "Decrypt": {"CiphertextBlob": blob},
            "DescribeKey": {"KeyId": key_id},
        }
        print(f"{'operation':<18} {'root us/req':>11} {'user us/req':>11} {'user req/s':>11}")
        for operation, template in cases.items():
            costs = [_cost(app, operation, template, who, args.requests) for who in (None, user)]
            print(f"{operation:<18} {costs[0]:>11.1f} {costs[1]:>11.1f} {1e6 / costs[1]:>11.0f}")


def _iam_user(data: Path) -> tuple[str, str]:
    """An IAM user allowed the benchmarked operations when the request has an encryption context key
    ``n`` or none at all (a condition to evaluate on every request)."""
    from strongroom.cli.iam import open_admin
    from strongroom.domain.identities import PrincipalKind

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "arn:aws:kms:us-east-1:*:key/*",
                "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["n"]}},
            }
        ],
    }
    with open_admin(data, None) as admin:
        admin.create_principal(PrincipalKind.USER, "bench")
        admin.put_policy(PrincipalKind.USER, "bench", "use", orjson.dumps(policy).decode())
        key = admin.create_access_key(PrincipalKind.USER, "bench")
    return key.access_key_id, key.secret


def _cost(app, operation: str, template: dict[str, object], who: tuple[str, str] | None, count: int) -> float:  # type: ignore[no-untyped-def]
    """CPU microseconds per request for ``operation``, signed by ``who`` (None: the account root)."""
    requests = []
    for i in range(256):
        params = orjson.loads(orjson.dumps(template).replace(b"{i}", str(i).encode()))
        requests.append(_pair(f"TrentService.{operation}", params, who))
    for headers, payload in requests:  # warm caches
        status, _, response = app.handle("POST", "/", "", headers, payload)
        if status != 200:
            raise SystemExit(f"{operation} failed: {response!r}")
    started = time.process_time()
    for n in range(count):
        headers, payload = requests[n & 255]
        app.handle("POST", "/", "", headers, payload, "127.0.0.1")
    return (time.process_time() - started) / count * 1e6


def _pair(
    target: str, params: dict[str, object], who: tuple[str, str] | None = None
) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps(params)
    return signed(target, body, who or (ACCESS_KEY, SECRET_KEY)), body


if __name__ == "__main__":
    main()
