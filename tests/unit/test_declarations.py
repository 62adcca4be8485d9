"""The operation declarations: every fact the server derives from them, pinned to AWS's documented
lists, so that a declaration changed by mistake fails here rather than in production."""

from __future__ import annotations

import pytest

from strongroom.domain.keys import KeySpec, KeyUsage, KmsKey, Origin
from strongroom.operations.declaration import Access
from strongroom.operations.registry import CATALOG
from strongroom.protocol.model import load_kms_model

# API reference, "Cross-account use: Yes" (the IAM actions; ReEncrypt is ReEncryptFrom and ReEncryptTo).
CROSS_ACCOUNT = {
    "CreateGrant", "Decapsulate", "Decrypt", "DeriveSharedSecret", "DescribeKey", "Encapsulate", "Encrypt",
    "GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GetKeyRotationStatus", "GetPublicKey", "ListGrants",
    "ReEncryptFrom", "ReEncryptTo", "RetireGrant", "RevokeGrant", "Sign", "Verify", "VerifyMac",
}  # fmt: skip
# Developer Guide, "Grant operations", by the kind of key.
COMMON = {"CreateGrant", "RetireGrant", "DescribeKey"}
GRANTABLE = {
    (KeySpec.SYMMETRIC_DEFAULT, KeyUsage.ENCRYPT_DECRYPT): COMMON
    | {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    },  # fmt: skip
    (KeySpec.RSA_2048, KeyUsage.ENCRYPT_DECRYPT): COMMON
    | {"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"},
    (KeySpec.ECC_NIST_P256, KeyUsage.SIGN_VERIFY): COMMON | {"Sign", "Verify", "GetPublicKey"},
    (KeySpec.HMAC_256, KeyUsage.GENERATE_VERIFY_MAC): COMMON | {"GenerateMac", "VerifyMac"},
    (KeySpec.ECC_NIST_P256, KeyUsage.KEY_AGREEMENT): COMMON | {"DeriveSharedSecret", "GetPublicKey"},
    # Not in the guide's table as we know it: the GrantOperation enum has Encapsulate and Decapsulate,
    # which only ML-KEM keys perform, and GetPublicKey is grantable on every other asymmetric key.
    (KeySpec.ML_KEM_768, KeyUsage.ENCAPSULATE_DECAPSULATE): COMMON
    | {"Encapsulate", "Decapsulate", "GetPublicKey"},
}
# GetKeyLastUsage's KeyLastUsageTrackingOperation enum: the cryptographic operations.
CRYPTOGRAPHIC = set(load_kms_model().shape("KeyLastUsageTrackingOperation")["enum"])


def key(spec: KeySpec, usage: KeyUsage) -> KmsKey:
    return KmsKey(
        key_id="k",
        account_id="111122223333",
        region="us-east-1",
        creation_date=0.0,
        key_spec=spec,
        key_usage=usage,
        origin=Origin.AWS_KMS,
    )


def test_every_declared_operation_is_in_the_model() -> None:
    assert set(CATALOG.operations) <= load_kms_model().operation_names


def test_cross_account_actions() -> None:
    actions = {a for op in CATALOG.operations.values() for a in op.iam_actions}
    assert {a for a in actions if CATALOG.crosses_accounts(a)} == CROSS_ACCOUNT


@pytest.mark.parametrize(("spec", "usage"), list(GRANTABLE))
def test_grant_operations_by_kind_of_key(spec: KeySpec, usage: KeyUsage) -> None:
    assert CATALOG.grant_operations(key(spec, usage)) == GRANTABLE[(spec, usage)]


def test_grant_constraints_do_not_apply_to_three_operations() -> None:
    free = {a for op in CATALOG.operations.values() for a in op.iam_actions}
    assert {a for a in free if not CATALOG.grant_constraints_apply(a)} == {
        "DescribeKey",
        "GetPublicKey",
        "RetireGrant",
    }


def test_what_changes_state_and_what_is_cryptographic() -> None:
    assert CATALOG.cryptographic == CRYPTOGRAPHIC
    for name, operation in CATALOG.operations.items():
        # AWS names its reads Describe*, Get*, List*; the others that change nothing are the
        # cryptographic operations and GenerateRandom.
        reads = name.startswith(("Describe", "Get", "List")) or name in CRYPTOGRAPHIC | {"GenerateRandom"}
        assert operation.access.read_only is reads, name
        assert (operation.access is Access.CRYPTOGRAPHIC) is (name in CRYPTOGRAPHIC), name


def test_secret_members_come_from_the_model_and_the_declarations() -> None:
    assert "GrantToken" in CATALOG.secret_members("CreateGrant")  # declared: a string, not a blob
    assert {"KeyStorePassword", "RawSecretAccessKey"} <= CATALOG.secret_members("CreateCustomKeyStore")
    assert {"Plaintext", "CiphertextBlob", "AttestationDocument"} <= CATALOG.secret_members("Decrypt")
    # An operation Strongroom does not implement yet is covered by the model alone.
    assert {"SharedSecret"} <= CATALOG.secret_members("Encapsulate") | CATALOG.secret_members("Decapsulate")
    assert "KeyId" not in CATALOG.secret_members("Encrypt")
