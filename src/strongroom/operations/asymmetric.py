"""Asymmetric and HMAC keys: GetPublicKey, Sign, Verify, GenerateMac, VerifyMac, DeriveSharedSecret,
Encapsulate, Decapsulate.

Each handler resolves the key, authorizes it, checks its usage and then its state (AWS's order), honours
DryRun, and calls the domain (:mod:`strongroom.domain.asymmetric`). RSA encryption is in
:mod:`strongroom.operations.crypto`, next to the symmetric kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.domain.asymmetric import AsymmetricKey, MacKey, algorithms_for, is_asymmetric
from strongroom.domain.keys import KeyUsage, KmsKey
from strongroom.domain.policy import ContextValue
from strongroom.errors import (
    InvalidKeyUsageException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
)
from strongroom.operations.authz import authorize_key
from strongroom.operations.common import b64, check_dry_run
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, GrantKeys, Operation
from strongroom.operations.recipient import attestation_conditions, attestation_of, for_recipient
from strongroom.operations.requests import (
    DecapsulateRequest,
    DeriveSharedSecretRequest,
    EncapsulateRequest,
    GenerateMacRequest,
    GetPublicKeyRequest,
    SignRequest,
    VerifyMacRequest,
    VerifyRequest,
)

__all__ = [
    "DECLARATIONS",
    "decapsulate",
    "derive_shared_secret",
    "encapsulate",
    "generate_mac",
    "get_public_key",
    "sign",
    "verify",
    "verify_mac",
]


def _key_for(
    ctx: RequestContext,
    svc: Services,
    params: Mapping[str, Any],
    operation: str,
    usage: KeyUsage | None,
    extra: dict[str, ContextValue] | None = None,
) -> KmsKey:
    identifier = params["KeyId"]
    key = svc.keys.resolve(ctx.principal, identifier)
    authorize_key(
        ctx, svc, key, operation, identifier=identifier, extra=extra, grant_tokens=params.get("GrantTokens")
    )
    if usage is not None:
        key.require_usage(usage, operation)
    key.require_usable()
    return key


def get_public_key(ctx: RequestContext, svc: Services, params: GetPublicKeyRequest) -> dict[str, Any]:
    key = _key_for(ctx, svc, params, "GetPublicKey", None)
    if not is_asymmetric(key.key_spec):
        raise UnsupportedOperationException()  # a symmetric or HMAC key: no message, as in AWS
    response: dict[str, Any] = {
        "KeyId": key.arn,
        "PublicKey": b64(svc.keys.asymmetric_key(key).public_key_der()),
        "CustomerMasterKeySpec": key.key_spec.value,
        "KeySpec": key.key_spec.value,
        "KeyUsage": key.key_usage.value,
    }
    algorithms = algorithms_for(key.key_spec, key.key_usage)
    if algorithms.encryption:
        response["EncryptionAlgorithms"] = list(algorithms.encryption)
    if algorithms.signing:
        response["SigningAlgorithms"] = list(algorithms.signing)
    if algorithms.key_agreement:
        response["KeyAgreementAlgorithms"] = list(algorithms.key_agreement)
    if algorithms.encapsulation:
        response["EncapsulationAlgorithms"] = list(algorithms.encapsulation)
    return response


def _signing(
    ctx: RequestContext, svc: Services, params: Mapping[str, Any], operation: str
) -> tuple[KmsKey, str, str, AsymmetricKey]:
    """The key, algorithm, message type and signer of a Sign or Verify, after every check the call
    makes (so that DryRun answers only a call that would succeed)."""
    algorithm = params["SigningAlgorithm"]
    message_type = params.get("MessageType") or "RAW"
    key = _key_for(
        ctx,
        svc,
        params,
        operation,
        KeyUsage.SIGN_VERIFY,
        extra={"kms:SigningAlgorithm": algorithm, "kms:MessageType": message_type},
    )
    signer = svc.keys.asymmetric_key(key)
    signer.check_signing(algorithm, params["Message"], message_type)
    check_dry_run(params)
    return key, algorithm, message_type, signer


def sign(ctx: RequestContext, svc: Services, params: SignRequest) -> dict[str, Any]:
    key, algorithm, message_type, signer = _signing(ctx, svc, params, "Sign")
    signature = signer.sign(algorithm, params["Message"], message_type)
    return {"KeyId": key.arn, "Signature": b64(signature), "SigningAlgorithm": algorithm}


def verify(ctx: RequestContext, svc: Services, params: VerifyRequest) -> dict[str, Any]:
    key, algorithm, message_type, verifier = _signing(ctx, svc, params, "Verify")
    if not verifier.verify(algorithm, params["Message"], message_type, params["Signature"]):
        raise KMSInvalidSignatureException()
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


def _mac(
    ctx: RequestContext, svc: Services, params: Mapping[str, Any], operation: str
) -> tuple[KmsKey, str, MacKey]:
    """The HMAC key and algorithm of a GenerateMac or VerifyMac, after every check the call makes."""
    algorithm = params["MacAlgorithm"]
    key = _key_for(
        ctx, svc, params, operation, KeyUsage.GENERATE_VERIFY_MAC, extra={"kms:MacAlgorithm": algorithm}
    )
    mac_key = svc.keys.mac_key(key)
    mac_key.check_algorithm(algorithm)
    check_dry_run(params)
    return key, algorithm, mac_key


def generate_mac(ctx: RequestContext, svc: Services, params: GenerateMacRequest) -> dict[str, Any]:
    key, algorithm, mac_key = _mac(ctx, svc, params, "GenerateMac")
    mac = mac_key.generate(algorithm, params["Message"])
    return {"Mac": b64(mac), "MacAlgorithm": algorithm, "KeyId": key.arn}


def verify_mac(ctx: RequestContext, svc: Services, params: VerifyMacRequest) -> dict[str, Any]:
    key, algorithm, mac_key = _mac(ctx, svc, params, "VerifyMac")
    if not mac_key.verify(algorithm, params["Message"], params["Mac"]):
        raise KMSInvalidMacException()
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}


def derive_shared_secret(
    ctx: RequestContext, svc: Services, params: DeriveSharedSecretRequest
) -> dict[str, Any]:
    attestation = attestation_of(svc, params)
    algorithm = params["KeyAgreementAlgorithm"]
    key = _key_for(
        ctx,
        svc,
        params,
        "DeriveSharedSecret",
        KeyUsage.KEY_AGREEMENT,
        extra={"kms:KeyAgreementAlgorithm": algorithm, **attestation_conditions(attestation)},
    )
    agreeing = svc.keys.asymmetric_key(key)
    if algorithm not in agreeing.algorithms.key_agreement:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    check_dry_run(params)
    secret = agreeing.derive_shared_secret(algorithm, params["PublicKey"])
    if attestation is not None:
        return {
            "KeyId": key.arn,
            "CiphertextForRecipient": for_recipient(attestation, secret),
            "KeyAgreementAlgorithm": algorithm,
            "KeyOrigin": key.origin.value,
        }
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(secret),
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin.value,
    }


def _encapsulation(
    ctx: RequestContext, svc: Services, params: Mapping[str, Any], operation: str
) -> tuple[KmsKey, str, AsymmetricKey]:
    """The ML-KEM key and algorithm of an Encapsulate or Decapsulate, after every check the call makes
    (usage, then state, then the algorithm; DryRun last)."""
    algorithm = params["EncapsulationAlgorithm"]
    key = _key_for(ctx, svc, params, operation, KeyUsage.ENCAPSULATE_DECAPSULATE)
    kem = svc.keys.asymmetric_key(key)
    if algorithm not in kem.algorithms.encapsulation:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
    check_dry_run(params)
    return key, algorithm, kem


def encapsulate(ctx: RequestContext, svc: Services, params: EncapsulateRequest) -> dict[str, Any]:
    """A fresh shared secret and its ciphertext under the key's public key. Anyone with the public key
    (GetPublicKey) can do this locally; the operation exists for callers without an ML-KEM library."""
    key, algorithm, kem = _encapsulation(ctx, svc, params, "Encapsulate")
    shared_secret, ciphertext = kem.encapsulate(algorithm)
    return {
        "KeyId": key.arn,
        "SharedSecret": b64(shared_secret),
        "SharedSecretCiphertextBlob": b64(ciphertext),
        "EncapsulationAlgorithm": algorithm,
    }


def decapsulate(ctx: RequestContext, svc: Services, params: DecapsulateRequest) -> dict[str, Any]:
    key, algorithm, kem = _encapsulation(ctx, svc, params, "Decapsulate")
    shared_secret = kem.decapsulate(algorithm, params["SharedSecretCiphertextBlob"])
    return {"KeyId": key.arn, "SharedSecret": b64(shared_secret), "EncapsulationAlgorithm": algorithm}


DECLARATIONS = (
    Operation(
        "GetPublicKey",
        get_public_key,
        Access.READ,
        cross_account=True,
        grant_keys=GrantKeys.RSA_ENCRYPTION
        | GrantKeys.SIGNING
        | GrantKeys.KEY_AGREEMENT
        | GrantKeys.ENCAPSULATION,
        grant_constraints=False,
    ),
    Operation("Sign", sign, Access.CRYPTOGRAPHIC, cross_account=True, grant_keys=GrantKeys.SIGNING),
    Operation("Verify", verify, Access.CRYPTOGRAPHIC, cross_account=True, grant_keys=GrantKeys.SIGNING),
    Operation(
        "GenerateMac",
        generate_mac,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.MAC,
    ),
    Operation("VerifyMac", verify_mac, Access.CRYPTOGRAPHIC, cross_account=True, grant_keys=GrantKeys.MAC),
    Operation(
        "DeriveSharedSecret",
        derive_shared_secret,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.KEY_AGREEMENT,
    ),
    Operation(
        "Encapsulate",
        encapsulate,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.ENCAPSULATION,
    ),
    Operation(
        "Decapsulate",
        decapsulate,
        Access.CRYPTOGRAPHIC,
        cross_account=True,
        grant_keys=GrantKeys.ENCAPSULATION,
    ),
)
