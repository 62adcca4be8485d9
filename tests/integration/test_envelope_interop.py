"""strongroom.envelope against the real AWS Encryption SDK for Python and aws-encryption-cli, all using the
Strongroom server: each decrypts the other's messages, for every suite each side supports."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aws_encryption_sdk as esdk
import botocore.session as botocore_session
import pytest

from strongroom.envelope import DecryptionError, DecryptOptions, decrypt_bytes, decrypt_stream, encrypt_bytes
from tests.conftest import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, REGION, RunningServer, aws_env

SUITES = {
    "signed": esdk.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    "unsigned": esdk.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
}
FRAME = 128  # the ESDK wants a multiple of the AES block size in bits
SIZES = [0, 1, FRAME - 1, FRAME, FRAME + 1, 5 * FRAME, 100_000]


@pytest.fixture(scope="module")
def keys(server: RunningServer) -> list[str]:
    kms = server.client()
    return [kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]  # type: ignore[attr-defined]


@pytest.fixture
def provider(server: RunningServer, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    session = botocore_session.Session()
    session.set_credentials(ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY)
    session.set_config_variable("region", REGION)
    yield esdk.StrictAwsKmsMasterKeyProvider(key_ids=keys, botocore_session=session)


@pytest.fixture
def client() -> Any:
    return esdk.EncryptionSDKClient(commitment_policy=esdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


@pytest.mark.parametrize("suite", list(SUITES))
@pytest.mark.parametrize("size", SIZES)
def test_the_esdk_decrypts_our_messages(
    server: RunningServer, keys: list[str], provider: Any, client: Any, suite: str, size: int
) -> None:
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    message = encrypt_bytes(
        server.client(), keys, plaintext, {"purpose": "interop"}, frame_length=FRAME, signed=suite == "signed"
    )
    decrypted, header = client.decrypt(source=message, key_provider=provider)
    assert decrypted == plaintext
    assert header.algorithm == SUITES[suite]
    assert header.encryption_context["purpose"] == "interop"
    assert len(header.encrypted_data_keys) == 2


@pytest.mark.parametrize("suite", list(SUITES))
@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_the_esdk_messages(
    server: RunningServer, keys: list[str], provider: Any, client: Any, suite: str, size: int
) -> None:
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    message, _ = client.encrypt(
        source=plaintext,
        key_provider=provider,
        encryption_context={"purpose": "interop"},
        algorithm=SUITES[suite],
        frame_length=FRAME,
    )
    kms = server.client()
    decrypted, context = decrypt_bytes(kms, message, key_ids=keys, encryption_context={"purpose": "interop"})
    assert decrypted == plaintext and context["purpose"] == "interop"
    # Either key alone decrypts it; a key we were not told to trust is never used.
    assert decrypt_bytes(kms, message, key_ids=[keys[1]])[0] == plaintext
    with pytest.raises(DecryptionError, match="trusted"):
        decrypt_bytes(kms, message, key_ids=["arn:aws:kms:us-east-1:111122223333:key/other"])


def test_tampering_and_wrong_context_are_refused(server: RunningServer, keys: list[str]) -> None:
    kms = server.client()
    message = encrypt_bytes(kms, keys[:1], b"x" * 300, {"a": "b"}, frame_length=FRAME)
    assert decrypt_bytes(kms, message)[0] == b"x" * 300
    with pytest.raises(DecryptionError, match="encryption context"):
        decrypt_bytes(kms, message, encryption_context={"a": "c"})
    for position in range(0, len(message), 7):
        tampered = bytearray(message)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            decrypt_bytes(kms, bytes(tampered))
    for cut in (0, 1, 40, len(message) // 2, len(message) - 1):
        with pytest.raises(DecryptionError):
            decrypt_bytes(kms, message[:cut])
    with pytest.raises(DecryptionError):
        decrypt_bytes(kms, message + b"\x00")


NON_COMMITTING = [suite for suite in esdk.Algorithm if not suite.is_committing()]


@pytest.fixture
def legacy_client() -> Any:
    return esdk.EncryptionSDKClient(commitment_policy=esdk.CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)


@pytest.mark.parametrize("algorithm", NON_COMMITTING, ids=lambda suite: f"0x{suite.algorithm_id:04x}")
@pytest.mark.parametrize("frame_length", [FRAME, 0], ids=["framed", "non-framed"])
def test_we_decrypt_non_committing_messages_only_when_asked(
    server: RunningServer,
    keys: list[str],
    provider: Any,
    legacy_client: Any,
    algorithm: Any,
    frame_length: int,
) -> None:
    plaintext = bytes(range(256)) * 7
    message, _ = legacy_client.encrypt(
        source=plaintext,
        key_provider=provider,
        encryption_context={"era": "legacy"},
        algorithm=algorithm,
        frame_length=frame_length,
    )
    kms = server.client()
    with pytest.raises(DecryptionError, match="non-committing"):
        decrypt_bytes(kms, message, key_ids=keys)
    decrypted, context = decrypt_bytes(kms, message, key_ids=keys, allow_non_committing=True)
    assert decrypted == plaintext and context["era"] == "legacy"
    sink = io.BytesIO()
    decrypt_stream(kms, io.BytesIO(message), sink, DecryptOptions(allow_non_committing=True))
    assert sink.getvalue() == plaintext


@pytest.mark.parametrize("suite", list(SUITES))
def test_we_decrypt_non_framed_committing_messages(
    server: RunningServer, keys: list[str], provider: Any, client: Any, suite: str
) -> None:
    plaintext = b"one block " * 1000
    message, _ = client.encrypt(
        source=plaintext, key_provider=provider, algorithm=SUITES[suite], frame_length=0
    )
    assert decrypt_bytes(server.client(), message, key_ids=keys)[0] == plaintext
    tampered = bytearray(message)
    tampered[len(message) // 2] ^= 1
    sink = io.BytesIO()
    with pytest.raises(DecryptionError):
        decrypt_stream(server.client(), io.BytesIO(bytes(tampered)), sink)
    assert sink.getvalue() == b""  # the single tag failed: nothing was released


def _run(env: dict[str, str], *command: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()


AWS_ENCRYPTION_CLI = shutil.which("aws-encryption-cli")


@pytest.mark.skipif(
    AWS_ENCRYPTION_CLI is None, reason="aws-encryption-cli (a test dependency) is not installed"
)
@pytest.mark.parametrize(
    "algorithm", ["AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"]
)
def test_aws_encryption_cli_both_ways(
    server: RunningServer, keys: list[str], tmp_path: Any, algorithm: str
) -> None:
    env = aws_env(server)
    plaintext = os.urandom(300_000)
    (tmp_path / "plain").write_bytes(plaintext)
    sign = [] if algorithm.endswith("P384") else ["--no-sign"]
    strongroom = [sys.executable, "-m", "strongroom.cli.main"]
    esdk_cli = [str(AWS_ENCRYPTION_CLI), "-S", "--commitment-policy", "require-encrypt-require-decrypt"]
    # Ours, opened by aws-encryption-cli.
    _run(
        env,
        *strongroom,
        "encrypt",
        "--key",
        keys[0],
        "--context",
        "k=v",
        *sign,
        str(tmp_path / "plain"),
        "-o",
        str(tmp_path / "ours"),
    )
    _run(
        env,
        *esdk_cli,
        "--decrypt",
        "-i",
        str(tmp_path / "ours"),
        "-o",
        str(tmp_path / "ours.out"),
        "--wrapping-keys",
        f"key={keys[0]}",
        "--encryption-context",
        "k=v",
    )
    assert (tmp_path / "ours.out").read_bytes() == plaintext
    # Theirs, opened by ours.
    _run(
        env,
        *esdk_cli,
        "--encrypt",
        "-i",
        str(tmp_path / "plain"),
        "-o",
        str(tmp_path / "theirs"),
        "--wrapping-keys",
        f"key={keys[1]}",
        "--encryption-context",
        "k=w",
        "--algorithm",
        algorithm,
    )
    _run(
        env,
        *strongroom,
        "decrypt",
        "--key",
        keys[1],
        "--context",
        "k=w",
        str(tmp_path / "theirs"),
        "-o",
        str(tmp_path / "theirs.out"),
    )
    assert (tmp_path / "theirs.out").read_bytes() == plaintext
