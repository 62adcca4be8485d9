"""strongroom.envelope against the real AWS Encryption SDK for Python, both using the Strongroom server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_encryption_sdk as esdk
import botocore.session as botocore_session
import pytest

from strongroom.envelope import DecryptionError, decrypt_bytes, encrypt_bytes
from tests.conftest import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, REGION, RunningServer

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
