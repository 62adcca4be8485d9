"""Encrypt, Decrypt and ReEncrypt over HTTP: contexts, tampering, key mismatches, states."""

from __future__ import annotations

import pytest

from tests.conftest import ACCOUNT_ID, REGION, aws_error


def arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


@pytest.mark.parametrize("size", [1, 100, 4096])
def test_encrypt_decrypt(kms, key_id, size):
    plaintext = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext={"k": "v"})
    assert encrypted["KeyId"] == arn(key_id)
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert "KeyMaterialId" not in encrypted
    assert len(encrypted["CiphertextBlob"]) <= 6144
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert decrypted["Plaintext"] == plaintext


def test_plaintext_limits(kms, key_id):
    assert aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"x" * 4097) == (
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096",
        400,
    )
    code, message, _ = aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"")
    assert code == "ValidationException" and "greater than or equal to 1" in message


@pytest.mark.parametrize(
    ("used", "given"),
    [
        ({"a": "bc"}, {"ab": "c"}),
        ({"a": "b"}, None),
        (None, {"a": "b"}),
        ({"a": "b"}, {"a": "B"}),
        ({"a": "b"}, {"A": "b"}),
        ({"a": "b"}, {"a": "b", "c": "d"}),
        ({"a": "b", "c": "d"}, {"a": "b"}),
    ],
)
def test_encryption_context_must_match_exactly(kms, key_id, used, given):
    encrypted = kms.encrypt(
        KeyId=key_id, Plaintext=b"secret", **({"EncryptionContext": used} if used else {})
    )
    kwargs = {"EncryptionContext": given} if given is not None else {}
    code, message, status = aws_error(kms.decrypt, CiphertextBlob=encrypted["CiphertextBlob"], **kwargs)
    assert (code, message, status) == ("InvalidCiphertextException", "", 400)


def test_empty_context_equals_no_context(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={})["Plaintext"] == b"secret"


def test_tampered_and_garbage_ciphertexts(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    for position in (0, 1, 5, 20, 30, 45, len(blob) - 20, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        assert aws_error(kms.decrypt, CiphertextBlob=bytes(tampered))[0] == "InvalidCiphertextException"
    for bad in (b"x", blob[:-1], blob[:40], b"\x00" * 100):
        assert aws_error(kms.decrypt, CiphertextBlob=bad)[:2] == ("InvalidCiphertextException", "")


def test_decrypt_with_other_key_is_incorrect_key(kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert aws_error(kms.decrypt, CiphertextBlob=blob, KeyId=other) == (
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
        400,
    )
    # The mismatch is reported even when the named key is disabled: it comes before state checks.
    kms.disable_key(KeyId=other)
    assert aws_error(kms.decrypt, CiphertextBlob=blob, KeyId=other)[0] == "IncorrectKeyException"


def test_decrypt_dry_run(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert aws_error(kms.decrypt, CiphertextBlob=blob, DryRun=True)[0] == "DryRunOperationException"
    assert aws_error(kms.decrypt, KeyId=key_id, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])[0] == (
        "DryRunOperationException"
    )


def test_decrypt_missing_blob(kms):
    assert aws_error(kms.decrypt) == (
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: "
        "Member must not be null",
        400,
    )


def test_states_apply_to_decrypt(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    assert aws_error(kms.decrypt, CiphertextBlob=blob) == (
        "DisabledException",
        f"{arn(key_id)} is disabled.",
        400,
    )
    assert aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "DisabledException",
        f"{arn(key_id)} is disabled.",
        400,
    )
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for call in (
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    ):
        assert aws_error(call) == ("KMSInvalidStateException", f"{arn(key_id)} is pending deletion.", 400)


def test_non_default_algorithm_on_symmetric_key(kms, key_id):
    assert aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256") == (
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.",
        400,
    )


def test_re_encrypt_to_other_key_and_context(kms, key_id):
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload", EncryptionContext={"from": "a"})["CiphertextBlob"]
    response = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"from": "a"},
        DestinationKeyId=destination,
        DestinationEncryptionContext={"to": "b"},
    )
    assert response["SourceKeyId"] == arn(key_id)
    assert response["KeyId"] == arn(destination)
    assert (
        response["SourceEncryptionAlgorithm"]
        == response["DestinationEncryptionAlgorithm"]
        == "SYMMETRIC_DEFAULT"
    )
    assert len(response["SourceKeyMaterialId"]) == len(response["DestinationKeyMaterialId"]) == 64
    new_blob = response["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob, EncryptionContext={"to": "b"})["Plaintext"] == b"payload"
    assert aws_error(kms.decrypt, CiphertextBlob=new_blob, EncryptionContext={"from": "a"})[0] == (
        "InvalidCiphertextException"
    )


def test_re_encrypt_same_key_changes_context(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload", EncryptionContext={"v": "1"})["CiphertextBlob"]
    new_blob = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=key_id,
        DestinationEncryptionContext={"v": "2"},
    )["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob, EncryptionContext={"v": "2"})["Plaintext"] == b"payload"


def test_re_encrypt_errors(kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payload", EncryptionContext={"v": "1"})["CiphertextBlob"]
    assert (
        aws_error(
            kms.re_encrypt,
            CiphertextBlob=blob,
            SourceKeyId=other,
            DestinationKeyId=other,
            SourceEncryptionContext={"v": "1"},
        )[0]
        == "IncorrectKeyException"
    )
    assert (
        aws_error(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=other)[0]
        == "InvalidCiphertextException"
    )
    kms.disable_key(KeyId=other)
    assert (
        aws_error(
            kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=other, SourceEncryptionContext={"v": "1"}
        )[0]
        == "DisabledException"
    )
    assert (
        aws_error(
            kms.re_encrypt,
            CiphertextBlob=blob,
            DestinationKeyId=key_id,
            SourceEncryptionContext={"v": "1"},
            DryRun=True,
        )[0]
        == "DryRunOperationException"
    )
