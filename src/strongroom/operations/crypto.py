"""Encryption: GenerateDataKey(WithoutPlaintext), Encrypt, Decrypt, ReEncrypt, GenerateRandom, with
symmetric keys and (Encrypt, Decrypt, ReEncrypt) RSA keys.

These are the hot path. Each handler: validate what the model cannot, resolve the key, check usage
then state (AWS's order, digest 5.2), honour DryRun, then call the domain cipher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.domain import ml_kem
from strongroom.domain.asymmetric import KEY_PAIR_SPECS, AsymmetricKey, is_asymmetric, public_key_of
from strongroom.domain.attestation import Attestation
from strongroom.domain.ciphertext import parse_header
from strongroom.domain.encryption_context import canonical_encryption_context
from strongroom.domain.keys import KeySpec, KeyUsage, KmsKey, not_implemented
from strongroom.domain.ml_kem import ML_KEM_SPECS
from strongroom.domain.policy import ContextValue
from strongroom.errors import (
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KmsError,
    KMSInternalException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.operations.authz import authorize_account_action, authorize_key
from strongroom.operations.common import b64, check_dry_run, require_symmetric_algorithm
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.custom_key_stores import no_such_store
from strongroom.operations.declaration import Access, GrantKeys, Operation
from strongroom.operations.recipient import attestation_conditions, attestation_of, for_recipient
from strongroom.operations.requests import (
    DecryptRequest,
    EncryptRequest,
    GenerateDataKeyPairRequest,
    GenerateDataKeyPairWithoutPlaintextRequest,
    GenerateDataKeyRequest,
    GenerateDataKeyWithoutPlaintextRequest,
    GenerateRandomRequest,
    ReEncryptRequest,
)

__all__ = [
    "DECLARATIONS",
    "decrypt",
    "encrypt",
    "generate_data_key",
    "generate_data_key_pair",
    "generate_data_key_pair_without_plaintext",
    "generate_data_key_without_plaintext",
    "generate_random",
    "re_encrypt",
]

_DATA_KEY_LENGTHS = {"AES_256": 32, "AES_128": 16}
_PAIR_SPECS = {spec.value: spec for spec in KEY_PAIR_SPECS}  # KeyPairSpec values Strongroom generates
_ENCRYPT_DECRYPT = KeyUsage.ENCRYPT_DECRYPT


def _data_key_length(params: Mapping[str, Any]) -> int:
    spec = params.get("KeySpec")
    count = params.get("NumberOfBytes")
    if (spec is None) == (count is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    if spec is None:
        return int(count)  # type: ignore[arg-type]
    if spec not in _DATA_KEY_LENGTHS:  # a DataKeySpec value newer than Strongroom
        raise not_implemented("KeySpec", spec)
    return _DATA_KEY_LENGTHS[spec]


def _encryption_key(
    ctx: RequestContext,
    svc: Services,
    identifier: str,
    operation: str,
    context: dict[str, str] | None,
    action: str | None = None,
    extra: dict[str, ContextValue] | None = None,
    grant_tokens: list[str] | None = None,
) -> KmsKey:
    key = svc.keys.resolve(ctx.principal, identifier)
    authorize_key(
        ctx,
        svc,
        key,
        action or operation,
        identifier=identifier,
        encryption_context=context or {},
        extra=extra,
        grant_tokens=grant_tokens,
    )
    key.require_usage(_ENCRYPT_DECRYPT, operation)
    key.require_usable()
    return key


def _seal(svc: Services, key: KmsKey, plaintext: bytes, context_aad: bytes) -> bytes:
    version = key.current_material
    cipher = svc.keys.cipher(key, version) if version is not None else None
    if cipher is None:
        raise KMSInternalException("The key material of this key is unavailable.")
    return cipher.encrypt(plaintext, context_aad, svc.rng)


def _data_key_sealer(
    ctx: RequestContext,
    svc: Services,
    params: Mapping[str, Any],
    operation: str,
    extra: dict[str, ContextValue],
    asymmetric_message: str,
) -> tuple[KmsKey, bytes]:
    """The symmetric KMS key that seals a new data key (or a data key pair's private key), checked in
    AWS's order, and the canonical encryption context to bind it to. Data keys always use
    SYMMETRIC_DEFAULT (DG)."""
    key = _encryption_key(
        ctx,
        svc,
        params["KeyId"],
        operation,
        params.get("EncryptionContext"),
        extra={"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT", **extra},
        grant_tokens=params.get("GrantTokens"),
    )
    if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
        raise InvalidKeyUsageException(asymmetric_message)
    return key, canonical_encryption_context(params.get("EncryptionContext"))


def _new_data_key(
    ctx: RequestContext,
    svc: Services,
    params: Mapping[str, Any],
    operation: str,
    attestation: Attestation | None = None,
) -> tuple[KmsKey, bytes, bytes]:
    length = _data_key_length(params)
    key, context_aad = _data_key_sealer(
        ctx,
        svc,
        params,
        operation,
        attestation_conditions(attestation),
        "You cannot generate a data key with an asymmetric CMK",
    )
    check_dry_run(params)
    plaintext = svc.rng.bytes(length)
    return key, plaintext, _seal(svc, key, plaintext, context_aad)


def generate_data_key(ctx: RequestContext, svc: Services, params: GenerateDataKeyRequest) -> dict[str, Any]:
    attestation = attestation_of(svc, params)
    key, plaintext, blob = _new_data_key(ctx, svc, params, "GenerateDataKey", attestation)
    if attestation is not None:  # the data key goes only to the enclave; no KeyMaterialId either (MODEL)
        return {
            "CiphertextBlob": b64(blob),
            "KeyId": key.arn,
            "CiphertextForRecipient": for_recipient(attestation, plaintext),
        }
    return {
        "CiphertextBlob": b64(blob),
        "Plaintext": b64(plaintext),
        "KeyId": key.arn,
        "KeyMaterialId": key.current_material_id,
    }


def generate_data_key_without_plaintext(
    ctx: RequestContext, svc: Services, params: GenerateDataKeyWithoutPlaintextRequest
) -> dict[str, Any]:
    key, _, blob = _new_data_key(ctx, svc, params, "GenerateDataKeyWithoutPlaintext")
    return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "KeyMaterialId": key.current_material_id}


def _data_key_pair(
    ctx: RequestContext,
    svc: Services,
    params: Mapping[str, Any],
    operation: str,
    attestation: Attestation | None = None,
) -> tuple[KmsKey, str, bytes, bytes, bytes]:
    """(KMS key, pair spec, private key DER, public key DER, private key ciphertext) for
    GenerateDataKeyPair(WithoutPlaintext): the private key is encrypted like any data key."""
    pair_spec = params["KeyPairSpec"]
    key, context_aad = _data_key_sealer(
        ctx,
        svc,
        params,
        operation,
        {"kms:DataKeyPairSpec": pair_spec, **attestation_conditions(attestation)},
        "You cannot generate a data key pair with an asymmetric CMK",
    )
    if pair_spec == "SM2":
        raise UnsupportedOperationException("KeyPairSpec SM2 is not supported in this Region")
    spec = _PAIR_SPECS.get(pair_spec)
    if spec is None:  # any value newer than Strongroom
        raise not_implemented("KeyPairSpec", pair_spec)
    if spec in ML_KEM_SPECS:  # ML_KEM_512, or ML-KEM without a library that has it
        ml_kem.require(spec, "KeyPairSpec")
    check_dry_run(params)
    private = svc.keys.new_private_key(spec)
    public = public_key_of(private)
    return key, pair_spec, private, public, _seal(svc, key, private, context_aad)


def generate_data_key_pair(
    ctx: RequestContext, svc: Services, params: GenerateDataKeyPairRequest
) -> dict[str, Any]:
    attestation = attestation_of(svc, params)
    key, pair_spec, private, public, blob = _data_key_pair(
        ctx, svc, params, "GenerateDataKeyPair", attestation
    )
    if attestation is not None:
        return {
            "PrivateKeyCiphertextBlob": b64(blob),
            "PublicKey": b64(public),
            "KeyId": key.arn,
            "KeyPairSpec": pair_spec,
            "CiphertextForRecipient": for_recipient(attestation, private),
        }
    return {
        "PrivateKeyCiphertextBlob": b64(blob),
        "PrivateKeyPlaintext": b64(private),
        "PublicKey": b64(public),
        "KeyId": key.arn,
        "KeyPairSpec": pair_spec,
        "KeyMaterialId": key.current_material_id,
    }


def generate_data_key_pair_without_plaintext(
    ctx: RequestContext, svc: Services, params: GenerateDataKeyPairWithoutPlaintextRequest
) -> dict[str, Any]:
    key, pair_spec, _, public, blob = _data_key_pair(ctx, svc, params, "GenerateDataKeyPairWithoutPlaintext")
    return {
        "PrivateKeyCiphertextBlob": b64(blob),
        "PublicKey": b64(public),
        "KeyId": key.arn,
        "KeyPairSpec": pair_spec,
        "KeyMaterialId": key.current_material_id,
    }


def encrypt(ctx: RequestContext, svc: Services, params: EncryptRequest) -> dict[str, Any]:
    algorithm = params.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    key = _encryption_key(
        ctx,
        svc,
        params["KeyId"],
        "Encrypt",
        params.get("EncryptionContext"),
        extra={"kms:EncryptionAlgorithm": algorithm},
        grant_tokens=params.get("GrantTokens"),
    )
    if is_asymmetric(key.key_spec):
        rsa_key = _rsa_key(svc, key, algorithm, params.get("EncryptionContext"))
        blob = rsa_key.encrypt(algorithm, params["Plaintext"])  # checks the size before DryRun
        check_dry_run(params)
        return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "EncryptionAlgorithm": algorithm}
    require_symmetric_algorithm(key, params.get("EncryptionAlgorithm"))
    context_aad = canonical_encryption_context(params.get("EncryptionContext"))
    check_dry_run(params)
    blob = _seal(svc, key, params["Plaintext"], context_aad)
    return {"CiphertextBlob": b64(blob), "KeyId": key.arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _rsa_key(svc: Services, key: KmsKey, algorithm: str, context: dict[str, str] | None) -> AsymmetricKey:
    """An RSA encryption key, after the checks AWS makes: the algorithm must be one of its RSAES ones,
    and an encryption context (which raw RSA-OAEP cannot bind) is refused."""
    rsa_key = svc.keys.asymmetric_key(key)
    if algorithm not in rsa_key.algorithms.encryption:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    if context:
        raise ValidationException("EncryptionContext is not supported with asymmetric KMS keys.")
    return rsa_key


def _open(
    ctx: RequestContext,
    svc: Services,
    blob: bytes | None,
    key_id: str | None,
    context: dict[str, str] | None,
    algorithm: str | None,
    operation: str,
    dry_run_ignores_ciphertext: bool,
    grant_tokens: list[str] | None,
    destination: str | None = None,
    conditions: dict[str, ContextValue] | None = None,
) -> tuple[KmsKey, bytes | None, str | None]:
    """Decrypt a symmetric blob; returns the key, the plaintext and the material id used.

    Routes by the key reference inside the blob, never by trial decryption. A KeyId naming another key
    is IncorrectKeyException, checked before usage and state (digest 2.5)."""
    named = svc.keys.resolve(ctx.principal, key_id) if key_id is not None else None
    action = "Decrypt" if operation == "Decrypt" else "ReEncryptFrom"

    def admit(key: KmsKey) -> None:
        """Authorize the source key, then check its usage and state (AWS's order)."""
        extra: dict[str, ContextValue] = {
            "kms:EncryptionAlgorithm": algorithm or "SYMMETRIC_DEFAULT",
            **(conditions or {}),
        }
        if destination is not None:
            extra["kms:ReEncryptOnSameKey"] = _same_key(ctx, svc, key, destination)
        authorize_key(
            ctx,
            svc,
            key,
            action,
            identifier=key_id,
            encryption_context=context or {},
            extra=extra,
            grant_tokens=grant_tokens,
        )
        key.require_usage(_ENCRYPT_DECRYPT, operation)
        key.require_usable()

    if dry_run_ignores_ciphertext:
        if named is None:
            field = "keyId" if operation == "Decrypt" else "sourceKeyId"
            raise ValidationException(
                f"1 validation error detected: Value null at '{field}' failed to satisfy "
                "constraint: Member must not be null"
            )
        admit(named)
        return named, None, None
    if blob is None:
        raise ValidationException(
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
            "constraint: Member must not be null"
        )
    if named is not None and is_asymmetric(named.key_spec) and algorithm not in (None, "SYMMETRIC_DEFAULT"):
        admit(named)
        plaintext = _rsa_key(svc, named, algorithm, context).decrypt(algorithm, blob)
        return named, plaintext, None
    header = parse_header(blob)  # an RSA ciphertext with the default algorithm fails here, as in AWS
    if named is not None and named.key_id != header.key_id:
        raise IncorrectKeyException()
    key = named or svc.keys.find(ctx.principal.region, header.key_id)
    if key is None:
        raise InvalidCiphertextException()
    admit(key)
    require_symmetric_algorithm(key, algorithm)
    cipher = svc.keys.cipher(key, header.material_version)
    if cipher is None:
        raise InvalidCiphertextException()
    plaintext = cipher.decrypt(blob, canonical_encryption_context(context))
    return key, plaintext, svc.keys.material_id(key, header.material_version)


def _ignores_ciphertext(params: Mapping[str, Any]) -> bool:
    return bool(params.get("DryRun")) and "IGNORE_CIPHERTEXT" in (params.get("DryRunModifiers") or ())


def decrypt(ctx: RequestContext, svc: Services, params: DecryptRequest) -> dict[str, Any]:
    attestation = attestation_of(svc, params)
    key, plaintext, material_id = _open(
        ctx,
        svc,
        params.get("CiphertextBlob"),
        params.get("KeyId"),
        params.get("EncryptionContext"),
        params.get("EncryptionAlgorithm"),
        "Decrypt",
        _ignores_ciphertext(params),
        params.get("GrantTokens"),
        conditions=attestation_conditions(attestation),
    )
    check_dry_run(params)
    assert plaintext is not None
    algorithm = params.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    if attestation is not None:  # the plaintext goes only to the enclave (MODEL: no KeyMaterialId)
        return {
            "KeyId": key.arn,
            "EncryptionAlgorithm": algorithm,
            "CiphertextForRecipient": for_recipient(attestation, plaintext),
        }
    response = {"KeyId": key.arn, "Plaintext": b64(plaintext), "EncryptionAlgorithm": algorithm}
    if material_id is not None:
        response["KeyMaterialId"] = material_id
    return response


def re_encrypt(ctx: RequestContext, svc: Services, params: ReEncryptRequest) -> dict[str, Any]:
    source, plaintext, source_material = _open(
        ctx,
        svc,
        params.get("CiphertextBlob"),
        params.get("SourceKeyId"),
        params.get("SourceEncryptionContext"),
        params.get("SourceEncryptionAlgorithm"),
        "ReEncrypt",
        _ignores_ciphertext(params),
        params.get("GrantTokens"),
        destination=params["DestinationKeyId"],
    )
    destination_context = params.get("DestinationEncryptionContext")
    destination = _encryption_key(
        ctx,
        svc,
        params["DestinationKeyId"],
        "ReEncrypt",
        destination_context,
        action="ReEncryptTo",
        extra={
            "kms:EncryptionAlgorithm": params.get("DestinationEncryptionAlgorithm") or "SYMMETRIC_DEFAULT",
            "kms:ReEncryptOnSameKey": source.arn == _resolved_arn(ctx, svc, params["DestinationKeyId"]),
        },
        grant_tokens=params.get("GrantTokens"),
    )
    destination_algorithm = params.get("DestinationEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    rsa_destination = None
    if is_asymmetric(destination.key_spec):
        rsa_destination = _rsa_key(svc, destination, destination_algorithm, destination_context)
    else:
        require_symmetric_algorithm(destination, params.get("DestinationEncryptionAlgorithm"))
    context_aad = canonical_encryption_context(destination_context)
    if rsa_destination is not None and plaintext is not None:
        blob = rsa_destination.encrypt(destination_algorithm, plaintext)  # the size check, before DryRun
    check_dry_run(params)
    assert plaintext is not None
    if rsa_destination is None:
        blob = _seal(svc, destination, plaintext, context_aad)
    response: dict[str, Any] = {
        "CiphertextBlob": b64(blob),
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": params.get("SourceEncryptionAlgorithm") or "SYMMETRIC_DEFAULT",
        "DestinationEncryptionAlgorithm": destination_algorithm,
    }
    if rsa_destination is None:
        response["DestinationKeyMaterialId"] = destination.current_material_id
    if source_material is not None:
        response["SourceKeyMaterialId"] = source_material
    return response


def _resolved_arn(ctx: RequestContext, svc: Services, identifier: str) -> str:
    return svc.keys.resolve(ctx.principal, identifier).arn


def _same_key(ctx: RequestContext, svc: Services, source: KmsKey, destination: str) -> bool:
    """``kms:ReEncryptOnSameKey`` for the ReEncryptFrom check. A destination that does not resolve is
    not the same key; its own error comes when the destination is checked."""
    try:
        return _resolved_arn(ctx, svc, destination) == source.arn
    except KmsError:
        return False


def generate_random(ctx: RequestContext, svc: Services, params: GenerateRandomRequest) -> dict[str, Any]:
    count = params.get("NumberOfBytes")
    if count is None:
        raise ValidationException("NumberOfBytes is required.")
    attestation = attestation_of(svc, params)
    authorize_account_action(ctx, svc, "GenerateRandom", extra=attestation_conditions(attestation) or None)
    if params.get("CustomKeyStoreId") is not None:
        raise no_such_store(params["CustomKeyStoreId"])
    random = svc.rng.bytes(int(count))
    if attestation is not None:
        return {"CiphertextForRecipient": for_recipient(attestation, random)}
    return {"Plaintext": b64(random)}


DECLARATIONS = (
    Operation(
        "GenerateDataKey",
        generate_data_key,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC,
    ),
    Operation(
        "GenerateDataKeyWithoutPlaintext",
        generate_data_key_without_plaintext,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC,
    ),
    Operation(
        "Encrypt",
        encrypt,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC | GrantKeys.RSA_ENCRYPTION,
    ),
    Operation(
        "Decrypt",
        decrypt,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC | GrantKeys.RSA_ENCRYPTION,
    ),
    Operation(
        "ReEncrypt",
        re_encrypt,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC | GrantKeys.RSA_ENCRYPTION,
        actions=("ReEncryptFrom", "ReEncryptTo"),
    ),
    Operation("GenerateRandom", generate_random, Access.READ),
    Operation(
        "GenerateDataKeyPair",
        generate_data_key_pair,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC,
    ),
    Operation(
        "GenerateDataKeyPairWithoutPlaintext",
        generate_data_key_pair_without_plaintext,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.SYMMETRIC,
    ),
)
