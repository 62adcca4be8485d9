"""Shared test helpers: start the real server on a free loopback port and talk to it with boto3."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ADMIN_ACCESS_KEY = "AKIASTRONGROOMTEST01"
ADMIN_SECRET_KEY = "strongroom-test-secret-key-0123456789abcd"
ACCOUNT_ID = "111122223333"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Make the server receive SIGTERM if the test process dies, so no server outlives the tests."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    endpoint: str
    data_dir: Path
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(
        self,
        service: str = "kms",
        region: str = REGION,
        access_key: str = ADMIN_ACCESS_KEY,
        secret_key: str = ADMIN_SECRET_KEY,
        **config: object,
    ) -> object:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            # parameter_validation off: the server's own validation is what the tests exercise.
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False, **config
            ),  # type: ignore[arg-type]
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


def start_server(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    admin_env: bool = True,
    port: int | None = None,
    wait: bool = True,
) -> RunningServer:
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STRONGROOM_"))}
    if admin_env:
        full_env["STRONGROOM_ADMIN_ACCESS_KEY_ID"] = ADMIN_ACCESS_KEY
        full_env["STRONGROOM_ADMIN_SECRET_ACCESS_KEY"] = ADMIN_SECRET_KEY
    full_env.update(env or {})
    log_path = data_dir.parent / f"server-{data_dir.name}-{port}.log"
    command = [
        sys.executable,
        "-m",
        "strongroom.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *args,
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=full_env, preexec_fn=_die_with_parent
        )
    server = RunningServer(process, f"http://127.0.0.1:{port}", data_dir, port, log_path, full_env)
    if wait:
        wait_until_listening(server)
    return server


def wait_until_listening(server: RunningServer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.output()}")
        if "listening on" in server.output():
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                    return
            except OSError:
                pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not start within {timeout}s:\n{server.output()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the whole session (tests that need their own start one with start_server)."""
    running = start_server(tmp_path_factory.mktemp("shared") / "data", "--account-id", ACCOUNT_ID)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def kms(server: RunningServer):  # type: ignore[no-untyped-def]
    return server.client()


@pytest.fixture
def key_id(kms) -> str:  # type: ignore[no-untyped-def]
    return str(kms.create_key(Description="test key")["KeyMetadata"]["KeyId"])


def aws_env(server: RunningServer) -> dict[str, str]:
    """This process's environment without its AWS settings, plus what a program needs to use ``server``
    as the admin: credentials, a region and ``AWS_ENDPOINT_URL_KMS``, and no AWS config or credentials
    file."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return clean | {
        "AWS_ACCESS_KEY_ID": ADMIN_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_KMS": server.endpoint,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }


def aws_error(call, *args, **kwargs) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    """Run a boto3 call that must fail; return (code, message, HTTP status)."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )
