"""A full data volume: requests are answered ``KMSInternalException`` at once (no hang, no dropped
connection), the workers live on, ``/readyz`` says not ready for as long as the disk is full, and service
comes back once there is space again."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import RunningServer, start_server
from tests.integration.mounts import fill, tmpfs
from tests.integration.processes import worker_pids

ANSWER_SECONDS = 10  # botocore's read timeout: a request that hangs fails the test instead


def new_client(server: RunningServer) -> Any:
    """A client with a connection of its own (the kernel spreads new connections over the workers)."""
    return server.client(connect_timeout=5, read_timeout=ANSWER_SECONDS)


def readyz(server: RunningServer) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.endpoint + "/readyz", timeout=ANSWER_SECONDS) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def not_ready(**failing: str) -> dict[str, Any]:
    checks = {"storage": "ok", "root_of_trust": "ok", "audit": "failing", "disk": "ok"} | failing
    return {"status": "not ready", "checks": checks}


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def error_code(call: Callable[..., Any], **kwargs: Any) -> str:
    """Make a call that must fail with an AWS error answer (a hang or a dropped connection raises)."""
    try:
        call(**kwargs)
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    raise AssertionError(f"{call.__name__} succeeded on a full disk")


def succeeds(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError:
        return False
    return True


def test_a_full_data_volume_fails_requests_cleanly_and_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", "8m") as volume:
        # The data dir is the volume itself, so that the server's log (beside the data dir) is not on it.
        server = start_server(volume, "--workers", "2")
        try:
            kms = new_client(server)
            key_id = kms.create_key()["KeyMetadata"]["KeyId"]
            blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
            workers = worker_pids(server.process.pid)
            assert len(workers) == 2
            assert readyz(server)[0] == 200

            filler = volume / "filler"
            assert fill(filler) > 0
            # /readyz asks the file system itself (and so refreshes the answering worker's view, which
            # requests consult at most once a second); new connections reach both workers.
            assert eventually(lambda: readyz(server)[1]["checks"]["disk"] == "failing", timeout=10)
            assert all(readyz(server)[0] == 503 for _ in range(6))
            # A worker looks at the volume at most once a second: within that, a record may still fit
            # in the slack of the trail's last page.
            assert eventually(lambda: not succeeds(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256"))
            for _ in range(3):
                assert error_code(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256") == (
                    "KMSInternalException"
                )
                assert error_code(kms.decrypt, CiphertextBlob=blob) == "KMSInternalException"
                assert error_code(kms.create_key) == "KMSInternalException"
            # Fresh connections, so that both workers are asked; every answer still comes at once.
            for _ in range(4):
                assert error_code(new_client(server).describe_key, KeyId=key_id) == "KMSInternalException"
                assert readyz(server)[0] == 503
            assert worker_pids(server.process.pid) == workers, server.output()
            assert "exited with" not in server.output()

            filler.unlink()
            assert eventually(lambda: readyz(server)[1]["checks"]["disk"] == "ok", timeout=10), readyz(server)
            # A worker's audit sink counts as failing until one of its writes succeeds again, which a
            # request brings: requests on new connections, until both workers have had one.
            assert eventually(
                lambda: all(
                    succeeds(new_client(server).generate_data_key, KeyId=key_id, KeySpec="AES_256")
                    for _ in range(6)
                )
            )
            assert eventually(lambda: all(readyz(server)[0] == 200 for _ in range(6))), readyz(server)
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
            assert kms.create_key()["KeyMetadata"]["Enabled"] is True
            assert worker_pids(server.process.pid) == workers, server.output()
        finally:
            assert server.stop() == 0
        verified = subprocess.run(
            [
                sys.executable,
                "-m",
                "strongroom.cli.main",
                "audit",
                "verify",
                "--data-dir",
                str(volume),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
