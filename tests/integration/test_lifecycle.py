"""CreateKey, DescribeKey, ListKeys, Enable/Disable, deletion scheduling, descriptions; identifiers."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import ACCOUNT_ID, REGION, aws_error


def arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def test_create_key_metadata(kms):
    before = time.time()
    meta = kms.create_key(Description="test key 123")["KeyMetadata"]
    assert uuid.UUID(meta["KeyId"]) and meta["KeyId"] == meta["KeyId"].lower()
    assert meta["Arn"] == arn(meta["KeyId"])
    assert meta["AWSAccountId"] == ACCOUNT_ID
    assert before - 1 <= meta["CreationDate"].timestamp() <= time.time() + 1
    expected = {
        "Description": "test key 123",
        "Enabled": True,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    assert {k: meta[k] for k in expected} == expected
    assert len(meta["CurrentKeyMaterialId"]) == 64
    assert "DeletionDate" not in meta


def test_create_key_defaults_description(kms):
    assert kms.create_key()["KeyMetadata"]["Description"] == ""


def test_create_multi_region_key(kms):
    meta = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert meta["KeyId"].startswith("mrk-") and len(meta["KeyId"]) == 36
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    blob = kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == meta["Arn"]


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        (
            {"KeySpec": "RSA_2048"},
            "ValidationException",
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
        ),
        (
            {"KeySpec": "RSA_2048", "KeyUsage": "KEY_AGREEMENT"},
            "ValidationException",
            "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048",
        ),
        (
            {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "SIGN_VERIFY"},
            "ValidationException",
            "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT",
        ),
        (
            {"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"},
            "UnsupportedOperationException",
            "KeySpec SM2 is not supported in this Region",
        ),
    ],
)
def test_create_key_spec_errors(kms, kwargs, code, message):
    assert aws_error(kms.create_key, **kwargs) == (code, message, 400)


def test_create_key_bad_usage_enum(kms):
    code, message, status = aws_error(kms.create_key, KeyUsage="RANDOM")
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )


def test_describe_key_by_every_form_and_errors(kms, key_id):
    kms.create_alias(AliasName=f"alias/d-{key_id}", TargetKeyId=key_id)
    for form in (
        key_id,
        arn(key_id),
        f"alias/d-{key_id}",
        f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/d-{key_id}",
    ):
        assert kms.describe_key(KeyId=form)["KeyMetadata"]["KeyId"] == key_id
    missing = str(uuid.uuid4())
    assert aws_error(kms.describe_key, KeyId=missing) == (
        "NotFoundException",
        f"Key '{arn(missing)}' does not exist",
        400,
    )
    assert aws_error(kms.describe_key, KeyId="fake-key-id") == (
        "NotFoundException",
        "Invalid keyId 'fake-key-id'",
        400,
    )
    assert aws_error(kms.describe_key, KeyId="mrk-fake-key-id") == (
        "NotFoundException",
        "Invalid keyId 'mrk-fake-key-id'",
        400,
    )
    assert aws_error(kms.describe_key, KeyId=f"arn:aws:kms:us-west-2:{ACCOUNT_ID}:key/{key_id}") == (
        "NotFoundException",
        "Invalid arn us-west-2",
        400,
    )
    assert aws_error(kms.describe_key, KeyId="alias/does-not-exist") == (
        "NotFoundException",
        f"Alias arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/does-not-exist is not found.",
        400,
    )


def test_keys_live_per_region(server, kms, key_id):
    west = server.client(region="eu-west-1")
    assert aws_error(west.describe_key, KeyId=key_id)[0] == "NotFoundException"
    west_key = west.create_key()["KeyMetadata"]
    assert west_key["Arn"] == f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{west_key['KeyId']}"
    assert all(
        k["KeyId"] != west_key["KeyId"]
        for k in kms.get_paginator("list_keys").paginate().build_full_result()["Keys"]
    )


def test_list_keys_pagination(server):
    client = server.client(region="ap-south-1")
    created = {client.create_key()["KeyMetadata"]["KeyId"] for _ in range(7)}
    first = client.list_keys(Limit=3)
    assert len(first["Keys"]) == 3 and first["Truncated"] is True and "NextMarker" in first
    listed = [
        k["KeyId"]
        for k in client.get_paginator("list_keys")
        .paginate(PaginationConfig={"PageSize": 2})
        .build_full_result()["Keys"]
    ]
    assert sorted(listed) == sorted(created)
    everything = client.list_keys()
    assert everything["Truncated"] is False and "NextMarker" not in everything
    assert all(
        k["KeyArn"] == f"arn:aws:kms:ap-south-1:{ACCOUNT_ID}:key/{k['KeyId']}" for k in everything["Keys"]
    )
    assert aws_error(client.list_keys, Marker="garbage")[0] == "InvalidMarkerException"
    assert aws_error(client.list_keys, Limit=0)[0] == "ValidationException"


def test_enable_disable(kms, key_id):
    kms.disable_key(KeyId=key_id)
    kms.disable_key(KeyId=key_id)  # idempotent
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    kms.enable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_key_only_operations_refuse_aliases(kms, key_id):
    kms.create_alias(AliasName=f"alias/ko-{key_id}", TargetKeyId=key_id)
    for call in (kms.disable_key, kms.enable_key, kms.schedule_key_deletion, kms.cancel_key_deletion):
        assert aws_error(call, KeyId=f"alias/ko-{key_id}") == (
            "InvalidArnException",
            "Key Aliases are not supported for this operation.",
            400,
        )


def test_schedule_and_cancel_deletion(kms, key_id):
    before = time.time()
    response = kms.schedule_key_deletion(KeyId=key_id)
    assert response["KeyId"] == arn(key_id)
    assert response["KeyState"] == "PendingDeletion" and response["PendingWindowInDays"] == 30
    assert abs(response["DeletionDate"].timestamp() - (before + 30 * 86400)) < 5
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("PendingDeletion", False) and "DeletionDate" in meta
    assert aws_error(kms.schedule_key_deletion, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"{arn(key_id)} is pending deletion.",
        400,
    )
    assert aws_error(kms.enable_key, KeyId=key_id)[0] == "KMSInvalidStateException"
    assert (
        aws_error(kms.update_key_description, KeyId=key_id, Description="x")[0] == "KMSInvalidStateException"
    )
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == arn(key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False) and "DeletionDate" not in meta
    assert aws_error(kms.cancel_key_deletion, KeyId=key_id) == (
        "KMSInvalidStateException",
        f"{arn(key_id)} is not pending deletion.",
        400,
    )


@pytest.mark.parametrize("days", [6, 31, 365])
def test_pending_window_range(kms, key_id, days):
    assert aws_error(kms.schedule_key_deletion, KeyId=key_id, PendingWindowInDays=days) == (
        "ValidationException",
        "PendingWindowInDays must be between 7 and 30",
        400,
    )


def test_update_key_description(kms, key_id):
    kms.update_key_description(KeyId=key_id, Description="new words")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "new words"
    kms.update_key_description(KeyId=key_id, Description="")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == ""


def test_unimplemented_operation_is_unsupported(kms, key_id):
    assert aws_error(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    ) == (
        "UnsupportedOperationException",
        "GetParametersForImport is not supported by Strongroom yet.",
        400,
    )
