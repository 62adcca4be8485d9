"""Starting and stopping a ``strongroom serve`` process for one benchmark run.

Each server gets a fresh temporary data directory, a free loopback port and admin credentials through
the environment.  Stopping it signals only the process that was started (SIGTERM, then SIGKILL after a
grace period) and deletes the temporary directory.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .common import SetupError, log
from .signing import Account

ADMIN_ACCESS_KEY_ID = "AKIABENCHMARK0000001"
ENV_ADMIN_ACCESS_KEY_ID = "STRONGROOM_ADMIN_ACCESS_KEY_ID"
ENV_ADMIN_SECRET_ACCESS_KEY = "STRONGROOM_ADMIN_SECRET_ACCESS_KEY"

LOG_TAIL_LINES = 40
LOG_TAIL_BYTES = 16_384


def free_port() -> int:
    """Ask the kernel for a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def strongroom_command() -> list[str]:
    """The command that runs the ``strongroom`` CLI, preferring this interpreter's environment."""
    beside_python = Path(sys.executable).with_name("strongroom")
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return [str(beside_python)]
    on_path = shutil.which("strongroom")
    if on_path:
        return [on_path]
    return [sys.executable, "-m", "strongroom.cli.main"]


def admin_account(region: str) -> Account:
    """Admin credentials with a random AWS-style secret, for the servers this benchmark starts."""
    alphabet = string.ascii_letters + string.digits + "+/"
    secret = "".join(secrets.choice(alphabet) for _ in range(40))
    return Account(region=region, access_key=ADMIN_ACCESS_KEY_ID, secret_key=secret)


def iam_user_account(data_dir: Path, region: str, key_id: str) -> Account:
    """An IAM user allowed only GenerateDataKey on ``key_id`` by its identity policy, made with
    ``strongroom iam`` on the server's data dir (the server picks it up without a restart).

    Requests signed as this user take the full authorization path: the key policy delegates to IAM, so
    the user's identity policy is evaluated too, which the account root skips."""
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "kms:GenerateDataKey",
                    "Resource": f"arn:aws:kms:{region}:*:key/{key_id}",
                }
            ],
        }
    )
    base = [*strongroom_command(), "iam"]
    location = ["--data-dir", str(data_dir)]

    def iam(*args: str) -> str:
        done = subprocess.run([*base, *args, *location], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise SetupError(f"strongroom iam {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    iam("create-user", "--user-name", "bench")
    iam("put-user-policy", "--user-name", "bench", "--policy-name", "gdk", "--policy-document", policy)
    created = json.loads(iam("create-access-key", "--user-name", "bench"))["AccessKey"]
    return Account(region=region, access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])


def file_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a (possibly large or missing) log file."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
            data = handle.read()
    except OSError as exc:
        return f"(cannot read {path}: {exc})"
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(empty)"


class SpawnedServer:
    """A ``strongroom serve`` process started (and later stopped) by the benchmark."""

    def __init__(
        self, workers: int, account: Account, startup_timeout: float, extra_args: Sequence[str]
    ) -> None:
        self.workers = workers
        self.account = account
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.tag = f"[workers={workers}]"
        self.scratch = Path(tempfile.mkdtemp(prefix=f"strongroom-bench-w{workers}-"))
        self.data_dir = self.scratch / "data"
        self.data_dir.mkdir()
        self.log_path = self.scratch / "server.log"
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the started server process, if it was started."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the server and wait (bounded) until its port accepts connections."""
        command = [
            *strongroom_command(),
            *("serve", "--host", "127.0.0.1", "--port", str(self.port)),
            *("--data-dir", str(self.data_dir), "--workers", str(self.workers)),
            *self.extra_args,
        ]
        env = dict(os.environ)
        env[ENV_ADMIN_ACCESS_KEY_ID] = self.account.access_key
        env[ENV_ADMIN_SECRET_ACCESS_KEY] = self.account.secret_key
        log(f"{self.tag} starting: {' '.join(command)}")
        log(f"{self.tag} server log: {self.log_path}")
        with self.log_path.open("wb") as log_file:
            try:
                self.process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.scratch,
                    start_new_session=True,  # Ctrl-C reaches only the benchmark, which then stops the server
                )
            except OSError as exc:
                raise SetupError(f"cannot execute {command[0]}: {exc}") from exc
        self.wait_until_listening()

    def wait_until_listening(self) -> None:
        """Poll the port until it accepts a TCP connection, the process exits, or the timeout passes."""
        assert self.process is not None
        started = time.monotonic()
        while True:
            code = self.process.poll()
            if code is not None:
                raise SetupError(
                    f"strongroom serve exited with code {code} before accepting connections; "
                    f"last server output:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    log(f"{self.tag} port {self.port} open after {time.monotonic() - started:.2f} s")
                    return
            except OSError:
                pass
            if time.monotonic() - started >= self.startup_timeout:
                raise SetupError(
                    f"strongroom serve did not accept connections on 127.0.0.1:{self.port} within "
                    f"{self.startup_timeout:g} s; last server output:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self) -> str:
        """The last lines the server wrote."""
        return file_tail(self.log_path)

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the server, SIGKILL it after ``grace`` seconds, then delete the scratch directory."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log(f"{self.tag} server ignored SIGTERM for {grace:.0f} s, sending SIGKILL")
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.scratch, ignore_errors=True)
