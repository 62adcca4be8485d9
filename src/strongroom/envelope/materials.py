"""Data keys from KMS: what encryption needs (a data key and its encrypted copies) and what decryption needs
(one encrypted data key turned back into the data key), optionally through a :class:`DataKeyCache`.

``kms`` is any boto3 KMS client: Strongroom or AWS KMS. Encryption calls ``GenerateDataKey`` under the first
KMS key and ``Encrypt`` under each further one, all with the full encryption context (including the
signature's public key, as the AWS Encryption SDK sends it). Decryption calls ``Decrypt`` with the
encrypted data key's own KMS key ARN, only for keys the caller trusts (strict mode) or, in discovery mode,
for every ``aws-kms`` encrypted data key; it takes the first that KMS decrypts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.envelope.cache import DataKeyCache
from strongroom.envelope.errors import DataKeyError, EncryptionError
from strongroom.envelope.message import EncryptedDataKey, Header
from strongroom.envelope.suites import Suite

__all__ = [
    "PROVIDER_ID",
    "PUBLIC_KEY_CONTEXT",
    "EncryptionMaterials",
    "decrypt_data_key",
    "encryption_materials",
    "resolve_key_arns",
]

PROVIDER_ID: Final = "aws-kms"
PUBLIC_KEY_CONTEXT: Final = "aws-crypto-public-key"
RESERVED_CONTEXT_PREFIX: Final = "aws-crypto-"


@dataclass(frozen=True, slots=True)
class EncryptionMaterials:
    suite: Suite
    data_key: bytes
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    encryption_context: dict[str, str]  # the caller's pairs, plus the public key of a signed suite
    signing_key: ec.EllipticCurvePrivateKey | None


def _kms_failure(operation: str, error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if operation in text else f"{operation} failed: {text}"


def _new_materials(
    kms: Any, key_ids: Sequence[str], context: Mapping[str, str], suite: Suite
) -> EncryptionMaterials:
    full_context = dict(context)
    signer = ec.generate_private_key(suite.curve) if suite.signed else None
    if signer is not None:
        point = signer.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        full_context[PUBLIC_KEY_CONTEXT] = base64.b64encode(point).decode("ascii")
    try:
        generated = kms.generate_data_key(
            KeyId=key_ids[0], NumberOfBytes=suite.data_key_length, EncryptionContext=full_context
        )
    except Exception as error:  # botocore ClientError, endpoint and credential errors
        raise EncryptionError(_kms_failure("GenerateDataKey", error)) from None
    data_key: bytes = generated["Plaintext"]
    edks = [EncryptedDataKey(PROVIDER_ID, generated["KeyId"], generated["CiphertextBlob"])]
    for key_id in key_ids[1:]:
        try:
            extra = kms.encrypt(KeyId=key_id, Plaintext=data_key, EncryptionContext=full_context)
        except Exception as error:
            raise EncryptionError(_kms_failure("Encrypt", error)) from None
        edks.append(EncryptedDataKey(PROVIDER_ID, extra["KeyId"], extra["CiphertextBlob"]))
    return EncryptionMaterials(suite, data_key, tuple(edks), full_context, signer)


def encryption_materials(
    kms: Any,
    key_ids: Sequence[str],
    context: Mapping[str, str],
    suite: Suite,
    *,
    cache: DataKeyCache | None = None,
    plaintext_length: int | None = None,
) -> EncryptionMaterials:
    """Materials for one message. With a cache, they are reused within its limits; a message whose length
    is not known up front (a stream) never uses the cache, since the byte limit could not be honoured."""
    if not key_ids:
        raise EncryptionError("At least one KMS key is needed.")
    if any(name.startswith(RESERVED_CONTEXT_PREFIX) for name in context):
        raise EncryptionError("Encryption context keys starting with 'aws-crypto-' are reserved.")
    if cache is None or plaintext_length is None:
        return _new_materials(kms, key_ids, context, suite)
    cache_key = ("encrypt", tuple(key_ids), suite, frozenset(context.items()))
    return cache.use_for_encryption(
        cache_key, plaintext_length, lambda: _new_materials(kms, key_ids, context, suite)
    )


def _is_key_arn(key_id: str) -> bool:
    return key_id.startswith("arn:") and ":key/" in key_id


def resolve_key_arns(kms: Any, key_ids: Sequence[str]) -> frozenset[str]:
    """Key ARNs for the given key ids, key ARNs, alias names or alias ARNs (DescribeKey for all but ARNs):
    encrypted data keys name their KMS key by ARN, so strict mode compares ARNs."""
    arns = set()
    for key_id in key_ids:
        if _is_key_arn(key_id):
            arns.add(key_id)
            continue
        try:
            arns.add(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
        except Exception as error:
            raise DataKeyError(_kms_failure("DescribeKey", error)) from None
    return frozenset(arns)


def _decrypt_with_kms(kms: Any, header: Header, trusted: frozenset[str] | None) -> bytes:
    errors: list[str] = []
    for edk in header.encrypted_data_keys:
        if edk.provider_id != PROVIDER_ID or (trusted is not None and edk.provider_info not in trusted):
            continue
        try:
            answer = kms.decrypt(
                CiphertextBlob=edk.ciphertext,
                KeyId=edk.provider_info,
                EncryptionContext=header.encryption_context,
            )
        except Exception as error:  # botocore's ClientError and transport errors: try the next key
            errors.append(_kms_failure("Decrypt", error))
            continue
        plaintext: bytes = answer["Plaintext"]
        if answer.get("KeyId") == edk.provider_info and len(plaintext) == header.suite.data_key_length:
            return plaintext
        errors.append(f"KMS key {edk.provider_info} returned an unexpected data key.")
    if errors:
        raise DataKeyError(f"No encrypted data key could be decrypted: {errors[-1]}")
    raise DataKeyError("None of the message's encrypted data keys is under a trusted KMS key.")


def decrypt_data_key(
    kms: Any, header: Header, trusted: frozenset[str] | None, *, cache: DataKeyCache | None = None
) -> bytes:
    """The data key of ``header``; ``trusted`` is the strict-mode key ARN set, or None for discovery."""
    if cache is None:
        return _decrypt_with_kms(kms, header, trusted)
    cache_key = (
        "decrypt",
        header.suite,
        header.encrypted_data_keys,
        frozenset(header.encryption_context.items()),
        trusted,
    )
    return cache.use_for_decryption(cache_key, lambda: _decrypt_with_kms(kms, header, trusted))
