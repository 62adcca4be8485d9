"""`strongroom serve` as a user meets it, and the AWS CLI against the server."""

from __future__ import annotations

import base64
import configparser
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys

import pytest

from tests.conftest import free_port, start_server


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `strongroom serve` to completion (for starts that must fail), on a free port unless ``args``
    name one: never the default 4599, which a server from the quickstart may hold."""
    port = () if "--port" in args else ("--port", str(free_port()))
    command = [sys.executable, "-m", "strongroom.cli.main", "serve", *port, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def test_first_start_generates_and_prints_admin_credentials(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, admin_env=False)
    try:
        output = server.output()
        match = re.search(r"export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)", output)
        assert match, output
        access_key, secret = match.groups()
        assert f"listening on {server.endpoint}" in output
        credentials_file = data / "admin-credentials"
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        parsed = configparser.ConfigParser()
        parsed.read(credentials_file)
        assert parsed["default"]["aws_access_key_id"] == access_key
        assert parsed["default"]["aws_secret_access_key"] == secret
        client = server.client(access_key=access_key, secret_key=secret)
        assert client.list_keys()["Keys"] == []
    finally:
        assert server.stop() == 0
    # Printed once: a restart does not print the secret again, and the same credentials still work.
    again = start_server(data, admin_env=False)
    try:
        assert secret not in again.output() and "listening on" in again.output()
        assert again.client(access_key=access_key, secret_key=secret).list_keys()["Truncated"] is False
    finally:
        assert again.stop() == 0


def test_sigint_stops_cleanly(tmp_path):
    server = start_server(tmp_path / "data")
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=20) == 0


def test_dev_mode_refuses_non_loopback(tmp_path):
    result = run_serve("--dev", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert "loopback" in result.stderr
    assert not (tmp_path / "data").exists()


def test_account_id_is_fixed_at_first_start(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, "--account-id", "444455556666")
    assert server.client().create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    assert server.stop() == 0
    result = run_serve("--data-dir", str(data), "--account-id", "111122223333")
    assert result.returncode != 0 and "belongs to account 444455556666" in result.stderr


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_generate_data_key_and_decrypt(server, tmp_path):
    key_id = server.client().create_key()["KeyMetadata"]["KeyId"]
    env = {
        **server.env,
        "AWS_ACCESS_KEY_ID": "AKIASTRONGROOMTEST01",
        "AWS_SECRET_ACCESS_KEY": "strongroom-test-secret-key-0123456789abcd",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }

    def aws(*args: str) -> dict:
        result = subprocess.run(
            ["aws", "kms", *args, "--endpoint-url", server.endpoint, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}

    generated = aws(
        "generate-data-key",
        "--key-id",
        key_id,
        "--key-spec",
        "AES_256",
        "--encryption-context",
        "app=cli,stage=test",
    )
    assert generated["KeyId"].endswith(key_id)
    blob_path = tmp_path / "key.bin"
    blob_path.write_bytes(base64.b64decode(generated["CiphertextBlob"]))
    decrypted = aws(
        "decrypt", "--ciphertext-blob", f"fileb://{blob_path}", "--encryption-context", "stage=test,app=cli"
    )
    assert decrypted["Plaintext"] == generated["Plaintext"]
    assert decrypted["KeyId"] == generated["KeyId"]
    failure = subprocess.run(
        [
            "aws",
            "kms",
            "decrypt",
            "--ciphertext-blob",
            f"fileb://{blob_path}",
            "--endpoint-url",
            server.endpoint,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert failure.returncode != 0 and "InvalidCiphertextException" in failure.stderr


def test_boto3_default_session_with_endpoint_env(server):
    """An unchanged program: only AWS_ENDPOINT_URL_KMS and credentials come from the environment."""
    script = (
        "import boto3; k = boto3.client('kms'); m = k.create_key()['KeyMetadata']; "
        "d = k.generate_data_key(KeyId=m['KeyId'], KeySpec='AES_256'); "
        "assert k.decrypt(CiphertextBlob=d['CiphertextBlob'])['Plaintext'] == d['Plaintext']; print('ok')"
    )
    env = {
        **server.env,
        "AWS_ENDPOINT_URL_KMS": server.endpoint,
        "AWS_ACCESS_KEY_ID": "AKIASTRONGROOMTEST01",
        "AWS_SECRET_ACCESS_KEY": "strongroom-test-secret-key-0123456789abcd",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_dev_mode_on_localhost_by_name(tmp_path):
    server = start_server(tmp_path / "data", "--dev")
    assert server.stop() == 0
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "serve",
            "--dev",
            "--host",
            "localhost",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and "listening on" not in line:
            line = process.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in line
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_port_in_use_is_a_clear_error(server, tmp_path):
    result = run_serve("--dev", "--port", str(server.port), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert f"cannot listen on http://127.0.0.1:{server.port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing is initialized when the port is taken"
