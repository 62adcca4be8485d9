"""Key rotation over HTTP with boto3: the five operations and their errors, old materials decrypting
after rotations and restarts, ReEncrypt to the current material, and automatic rotation through a
clock-shifted restart (recorded as RotateKey, and made once with two workers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, REGION, aws_error, start_server


def arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def new_key(kms: Any, **params: Any) -> str:
    return str(kms.create_key(**params)["KeyMetadata"]["KeyId"])


def test_rotation_status_enable_and_disable(kms: Any, key_id: str) -> None:
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert (status["KeyId"], status["KeyRotationEnabled"]) == (key_id, False)
    assert "RotationPeriodInDays" not in status and "NextRotationDate" not in status
    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=arn(key_id))
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    first = status["NextRotationDate"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=730)  # a new period moves the date
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["RotationPeriodInDays"] == 730
    assert round((status["NextRotationDate"] - first).total_seconds()) == 365 * 86400
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.disable_key_rotation(KeyId=key_id)  # idempotent


@pytest.mark.parametrize("days", [89, 2561])
def test_rotation_period_range(kms: Any, key_id: str, days: int) -> None:
    code, message, status = aws_error(kms.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=days)
    bound = "greater than or equal to 90" if days < 90 else "less than or equal to 2560"
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    ],
)
def test_only_symmetric_encryption_keys_rotate(kms: Any, spec: dict[str, str]) -> None:
    key_id = new_key(kms, **spec)
    for call in (
        kms.enable_key_rotation,
        kms.disable_key_rotation,
        kms.get_key_rotation_status,
        kms.rotate_key_on_demand,
        kms.list_key_rotations,
    ):
        assert aws_error(call, KeyId=key_id) == ("UnsupportedOperationException", "", 400), call


def test_disabled_and_pending_deletion_keys(kms: Any, key_id: str) -> None:
    kms.enable_key_rotation(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand):
        assert aws_error(call, KeyId=key_id) == ("DisabledException", f"{arn(key_id)} is disabled.", 400)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True  # unchanged
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand):
        assert aws_error(call, KeyId=key_id) == (
            "KMSInvalidStateException",
            f"{arn(key_id)} is pending deletion.",
            400,
        )
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True  # restored


def test_aliases_and_unknown_keys(kms: Any, key_id: str) -> None:
    kms.create_alias(AliasName="alias/rotation-test", TargetKeyId=key_id)
    assert aws_error(kms.rotate_key_on_demand, KeyId="alias/rotation-test") == (
        "InvalidArnException",
        "Key Aliases are not supported for this operation.",
        400,
    )
    missing = "00000000-0000-0000-0000-000000000000"
    assert aws_error(kms.get_key_rotation_status, KeyId=missing) == (
        "NotFoundException",
        f"Key '{arn(missing)}' does not exist",
        400,
    )


def test_rotate_on_demand_and_list(kms: Any, key_id: str) -> None:
    first = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    scheduled = kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"]
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == arn(key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == scheduled  # not moved
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert current != first and len(current) == 64
    only = kms.list_key_rotations(KeyId=key_id)
    assert only["Truncated"] is False and "NextMarker" not in only
    [entry] = only["Rotations"]
    assert entry["KeyId"] == key_id and entry["KeyMaterialId"] == current
    assert (entry["KeyMaterialState"], entry["RotationType"]) == ("CURRENT", "ON_DEMAND")
    assert "RotationDate" in entry
    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [e["KeyMaterialId"] for e in everything] == [first, current]
    assert everything[0]["KeyMaterialState"] == "NON_CURRENT"
    assert "RotationDate" not in everything[0] and "RotationType" not in everything[0]


def test_list_key_rotations_pages(kms: Any, key_id: str) -> None:
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_id)
    page = kms.list_key_rotations(KeyId=key_id, Limit=2)
    assert page["Truncated"] is True and len(page["Rotations"]) == 2
    rest = kms.list_key_rotations(KeyId=key_id, Limit=2, Marker=page["NextMarker"])
    assert rest["Truncated"] is False and len(rest["Rotations"]) == 1
    assert rest["Rotations"][0]["KeyMaterialState"] == "CURRENT"
    assert aws_error(kms.list_key_rotations, KeyId=key_id, Marker="not-a-marker") == (
        "InvalidMarkerException",
        "Invalid marker",
        400,
    )


def test_on_demand_limit(kms: Any, key_id: str) -> None:
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    assert aws_error(kms.rotate_key_on_demand, KeyId=key_id) == (
        "LimitExceededException",
        "The on-demand rotations limit has been reached for the given keyId. No more on-demand "
        f"rotations can be performed for this key: {arn(key_id)}",
        400,
    )
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 25


def _encrypt_under_rotations(kms: Any, key_id: str) -> list[tuple[bytes, bytes, str]]:
    """(ciphertext, plaintext, material id) from the first material and after each of 3 rotations,
    through Encrypt and GenerateDataKey alternately."""
    made = []
    for round_ in range(4):
        if round_:
            kms.rotate_key_on_demand(KeyId=key_id)
        material = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        if round_ % 2:
            data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"r": "1"})
            assert data_key["KeyMaterialId"] == material
            made.append((data_key["CiphertextBlob"], data_key["Plaintext"], material))
        else:
            plaintext = f"round {round_}".encode()
            blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext={"r": "1"})
            made.append((blob["CiphertextBlob"], plaintext, material))
    assert len({material for _, _, material in made}) == 4
    return made


def _assert_all_decrypt(kms: Any, made: list[tuple[bytes, bytes, str]]) -> None:
    for blob, plaintext, material in made:
        answer = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"r": "1"})
        assert (answer["Plaintext"], answer["KeyMaterialId"]) == (plaintext, material)


def test_every_material_decrypts_after_rotations_and_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        kms = server.client()
        key_id = new_key(kms)
        made = _encrypt_under_rotations(kms, key_id)
        _assert_all_decrypt(kms, made)
        server.stop()
        server = start_server(tmp_path / "data")
        kms = server.client()
        _assert_all_decrypt(kms, made)
        blob, plaintext, first = made[0]
        moved = kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext={"r": "1"},
            DestinationKeyId=key_id,
            DestinationEncryptionContext={"r": "1"},
        )
        current = made[-1][2]
        assert (moved["SourceKeyMaterialId"], moved["DestinationKeyMaterialId"]) == (first, current)
        assert (
            kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"r": "1"})["KeyMaterialId"]
            == current
        )
    finally:
        server.stop()


def _trail_events(data_dir: Path, name: str) -> list[dict[str, Any]]:
    events = []
    for segment in sorted((data_dir / "audit").glob("trail-*.jsonl")):
        for line in segment.read_text().splitlines():
            event = json.loads(line)["event"]
            if event["eventName"] == name:
                events.append(event)
    return events


def test_automatic_rotation_after_a_clock_shift_with_two_workers(tmp_path: Path) -> None:
    """A key due while the server was down is rotated once at start, even by two workers, recorded as
    CloudTrail records an automatic rotation, and its old ciphertexts still decrypt."""
    data = tmp_path / "data"
    server = start_server(data, "--dev")
    try:
        kms = server.client()
        due, not_due, disabled = new_key(kms), new_key(kms), new_key(kms)
        kms.enable_key_rotation(KeyId=due, RotationPeriodInDays=90)
        kms.enable_key_rotation(KeyId=not_due, RotationPeriodInDays=365)
        kms.enable_key_rotation(KeyId=disabled, RotationPeriodInDays=90)
        kms.disable_key(KeyId=disabled)
        scheduled = kms.get_key_rotation_status(KeyId=due)["NextRotationDate"]
        first = kms.describe_key(KeyId=due)["KeyMetadata"]["CurrentKeyMaterialId"]
        blob = kms.encrypt(KeyId=due, Plaintext=b"before")["CiphertextBlob"]
        server.stop()
        server = start_server(data, "--dev", "--clock-offset-days", "100", "--workers", "2")
        kms = server.client()
        [rotation] = kms.list_key_rotations(KeyId=due)["Rotations"]
        assert rotation["RotationType"] == "AUTOMATIC" and rotation["KeyMaterialState"] == "CURRENT"
        status = kms.get_key_rotation_status(KeyId=due)
        assert round((status["NextRotationDate"] - scheduled).total_seconds()) == 90 * 86400
        assert kms.describe_key(KeyId=due)["KeyMetadata"]["CurrentKeyMaterialId"] == rotation["KeyMaterialId"]
        assert kms.decrypt(CiphertextBlob=blob)["KeyMaterialId"] == first
        assert kms.list_key_rotations(KeyId=not_due)["Rotations"] == []
        assert kms.list_key_rotations(KeyId=disabled)["Rotations"] == []  # disabled keys do not rotate
    finally:
        server.stop()
    [event] = _trail_events(data, "RotateKey")
    assert event["eventType"] == "AwsServiceEvent" and event["readOnly"] is False
    assert event["userIdentity"] == {"accountId": ACCOUNT_ID, "invokedBy": "AWS Internal"}
    assert event["requestParameters"] is None and event["responseElements"] is None
    assert event["resources"] == [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": arn(due)}]
    assert event["serviceEventDetails"] == {
        "rotationType": "AUTOMATIC",
        "keyId": due,
        "keyOrigin": "AWS_KMS",
        "previousKeyMaterialId": first,
        "currentKeyMaterialId": rotation["KeyMaterialId"],
    }
    assert "requestID" not in event


def test_rotation_calls_are_recorded(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        kms = server.client()
        key_id = new_key(kms)
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
        kms.rotate_key_on_demand(KeyId=key_id)
        kms.get_key_rotation_status(KeyId=key_id)
    finally:
        server.stop()
    [enable] = _trail_events(tmp_path / "data", "EnableKeyRotation")
    assert enable["requestParameters"] == {"keyId": key_id, "rotationPeriodInDays": 180}
    assert enable["readOnly"] is False
    [on_demand] = _trail_events(tmp_path / "data", "RotateKeyOnDemand")
    assert on_demand["responseElements"] == {"keyId": arn(key_id)} and on_demand["readOnly"] is False
    [status] = _trail_events(tmp_path / "data", "GetKeyRotationStatus")
    assert status["readOnly"] is True and status["responseElements"] is None
