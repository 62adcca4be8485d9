#!/usr/bin/env python3
"""CPU cost of Strongroom's request handling without HTTP: SigV4, validation, dispatch, crypto, JSON.

The HTTP benchmark (``gdk_load.py``) measures the whole server. This one calls
``KmsApplication.handle`` directly in one process, with pre-signed requests, so the Python-side cost
of each operation can be tracked on its own, without network or scheduler noise.

    python bench/handler_cost.py [--requests 50000]
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


def signed(target: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4599/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", "us-east-1").add_auth(request)
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
        app = build_application(ServerConfig(data_dir=data))
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
        print(f"{'operation':<18} {'us/request':>10} {'requests/s':>11}")
        for operation, template in cases.items():
            requests = []
            for i in range(256):
                params = orjson.loads(orjson.dumps(template).replace(b"{i}", str(i).encode()))
                requests.append(_pair(f"TrentService.{operation}", params))
            for headers, payload in requests:  # warm caches
                status, _, response = app.handle("POST", "/", "", headers, payload)
                if status != 200:
                    raise SystemExit(f"{operation} failed: {response!r}")
            started = time.process_time()
            for n in range(args.requests):
                headers, payload = requests[n & 255]
                app.handle("POST", "/", "", headers, payload, "127.0.0.1")
            cost = (time.process_time() - started) / args.requests * 1e6
            print(f"{operation:<18} {cost:>10.1f} {1e6 / cost:>11.0f}")


def _pair(target: str, params: dict[str, object]) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps(params)
    return signed(target, body), body


if __name__ == "__main__":
    main()
