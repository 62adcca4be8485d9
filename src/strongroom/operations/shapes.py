"""Wire shapes shared by several operations (KeyMetadata as AWS KMS returns it, digest 7.1)."""

from __future__ import annotations

from typing import Any

from strongroom.domain.asymmetric import algorithms_for
from strongroom.domain.keys import KeySpec, KeyState, KmsKey

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
    algorithms = algorithms_for(key.key_spec, key.key_usage)
    for name, values in (
        ("EncryptionAlgorithms", algorithms.encryption),
        ("SigningAlgorithms", algorithms.signing),
        ("MacAlgorithms", algorithms.mac),
        ("KeyAgreementAlgorithms", algorithms.key_agreement),
        ("EncapsulationAlgorithms", algorithms.encapsulation),
    ):
        if values:
            meta[name] = list(values)
    if key.key_spec is KeySpec.SYMMETRIC_DEFAULT and key.current_material_id is not None:
        meta["CurrentKeyMaterialId"] = key.current_material_id  # absent for asymmetric and HMAC keys
    if key.multi_region:
        meta["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": key.arn, "Region": key.region},
            "ReplicaKeys": [],
        }
    return meta
