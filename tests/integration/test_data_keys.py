"""GenerateDataKey, GenerateDataKeyWithoutPlaintext and GenerateRandom over HTTP with boto3."""

from __future__ import annotations

import pytest

from tests.conftest import ACCOUNT_ID, REGION, aws_error


def arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


@pytest.mark.parametrize(
    ("spec", "length"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key_round_trip(kms, key_id, spec, length):
    context = {"purpose": "test", "tenant": "42"}
    response = kms.generate_data_key(KeyId=key_id, EncryptionContext=context, **spec)
    assert len(response["Plaintext"]) == length
    assert response["KeyId"] == arn(key_id)
    assert len(response["KeyMaterialId"]) == 64 and int(response["KeyMaterialId"], 16) >= 0
    decrypted = kms.decrypt(
        CiphertextBlob=response["CiphertextBlob"], EncryptionContext=dict(reversed(context.items()))
    )
    assert decrypted["Plaintext"] == response["Plaintext"]
    assert decrypted["KeyId"] == arn(key_id)
    assert decrypted["KeyMaterialId"] == response["KeyMaterialId"]
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_key_material_id_matches_describe_key(kms, key_id):
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    generated = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert generated["KeyMaterialId"] == described["CurrentKeyMaterialId"]


def test_data_keys_are_fresh(kms, key_id):
    keys = {kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"] for _ in range(20)}
    assert len(keys) == 20


def test_without_plaintext(kms, key_id):
    response = kms.generate_data_key_without_plaintext(
        KeyId=key_id, KeySpec="AES_256", EncryptionContext={"a": "b"}
    )
    assert "Plaintext" not in response
    assert response["KeyId"] == arn(key_id)
    assert (
        len(kms.decrypt(CiphertextBlob=response["CiphertextBlob"], EncryptionContext={"a": "b"})["Plaintext"])
        == 32
    )


@pytest.mark.parametrize("operation", ["generate_data_key", "generate_data_key_without_plaintext"])
@pytest.mark.parametrize("spec", [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}])
def test_exactly_one_of_key_spec_and_number_of_bytes(kms, key_id, operation, spec):
    assert aws_error(getattr(kms, operation), KeyId=key_id, **spec) == (
        "ValidationException",
        "Please specify either number of bytes or key spec.",
        400,
    )


def test_spec_check_comes_before_key_state(kms, key_id):
    kms.disable_key(KeyId=key_id)
    assert aws_error(kms.generate_data_key, KeyId=key_id)[0] == "ValidationException"
    assert aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256")[0] == "DisabledException"


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (
            0,
            "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            1025,
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value less than or equal to 1024",
        ),
    ],
)
def test_number_of_bytes_range(kms, key_id, count, message):
    assert aws_error(kms.generate_data_key, KeyId=key_id, NumberOfBytes=count) == (
        "ValidationException",
        message,
        400,
    )
    assert aws_error(kms.generate_random, NumberOfBytes=count) == ("ValidationException", message, 400)


def test_unknown_key_spec_lists_create_key_specs(kms, key_id):
    code, message, status = aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES-256")
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'AES-256' at 'keySpec' failed to satisfy constraint"
    )


def test_dry_run(kms, key_id):
    assert aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", DryRun=True) == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
        400,
    )
    kms.disable_key(KeyId=key_id)
    assert (
        aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", DryRun=True)[0]
        == "DisabledException"
    )


def test_grant_tokens_are_validated(kms, key_id):
    token = kms.create_grant(
        KeyId=key_id, GranteePrincipal="arn:aws:iam::111122223333:root", Operations=["GenerateDataKey"]
    )["GrantToken"]
    response = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", GrantTokens=[token])
    assert len(response["Plaintext"]) == 32
    assert aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", GrantTokens=["token-1"]) == (
        "InvalidGrantTokenException",
        "The grant token is invalid.",
        400,
    )


@pytest.mark.parametrize("count", [1, 32, 1024])
def test_generate_random(kms, count):
    first = kms.generate_random(NumberOfBytes=count)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=count)["Plaintext"]
    assert len(first) == len(second) == count
    if count >= 32:
        assert first != second


def test_generate_random_requires_a_count(kms):
    assert aws_error(kms.generate_random) == ("ValidationException", "NumberOfBytes is required.", 400)


def test_every_key_identifier_form(kms, key_id):
    kms.create_alias(AliasName=f"alias/forms-{key_id}", TargetKeyId=key_id)
    forms = [
        key_id,
        arn(key_id),
        f"alias/forms-{key_id}",
        f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/forms-{key_id}",
    ]
    for form in forms:
        response = kms.generate_data_key(KeyId=form, KeySpec="AES_256")
        assert response["KeyId"] == arn(key_id)
        assert (
            kms.decrypt(CiphertextBlob=response["CiphertextBlob"], KeyId=form)["Plaintext"]
            == response["Plaintext"]
        )
