"""Wire shapes shared by several operations (KeyMetadata as AWS KMS returns it, digest 7.1)."""

from __future__ import annotations

from typing import Any

from strongroom.domain.keys import KeySpec, KeyState, KeyUsage, KmsKey

__all__ = ["key_metadata"]


def key_metadata(key: KmsKey) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage.value,
        "KeyState": key.state.value,
        "Origin": key.origin.value,
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": key.key_spec.value,
        "KeySpec": key.key_spec.value,
        "MultiRegion": key.multi_region,
    }
    if key.deletion_date is not None and key.state is KeyState.PENDING_DELETION:
        meta["DeletionDate"] = key.deletion_date
    if key.key_usage is KeyUsage.ENCRYPT_DECRYPT and key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
        meta["EncryptionAlgorithms"] = ["SYMMETRIC_DEFAULT"]
        if key.current_material_id is not None:
            meta["CurrentKeyMaterialId"] = key.current_material_id
    if key.multi_region:
        meta["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": key.arn, "Region": key.region},
            "ReplicaKeys": [],
        }
    return meta
