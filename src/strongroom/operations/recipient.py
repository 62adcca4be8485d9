"""``Recipient``: a Nitro enclave's attestation document on Decrypt, GenerateDataKey, GenerateDataKeyPair,
GenerateRandom and DeriveSharedSecret. The document is verified before anything else
(:func:`strongroom.domain.attestation.verify_attestation`); its measurements become policy condition
values; and the secret goes out only wrapped to the enclave's key, as ``CiphertextForRecipient``, never
in the clear."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.domain.attestation import Attestation, envelope_for_recipient, verify_attestation
from strongroom.domain.policy import ContextValue
from strongroom.errors import ValidationException
from strongroom.operations.common import b64
from strongroom.operations.context import Services

__all__ = ["attestation_of", "attestation_conditions", "for_recipient"]


def attestation_of(svc: Services, params: Mapping[str, Any]) -> Attestation | None:
    """The verified attestation of the request's Recipient, or None when it has none."""
    recipient = params.get("Recipient")
    if recipient is None:
        return None
    algorithm = recipient.get("KeyEncryptionAlgorithm")
    if algorithm not in (None, "RSAES_OAEP_SHA_256"):
        raise ValidationException(f"KeyEncryptionAlgorithm {algorithm} is not supported.")
    document = recipient.get("AttestationDocument")
    if not document:
        raise ValidationException("Recipient must include an AttestationDocument.")
    return verify_attestation(document, svc.attestation_roots, svc.clock.now())


def attestation_conditions(attestation: Attestation | None) -> dict[str, ContextValue]:
    """The ``kms:RecipientAttestation:*`` condition values (none without an attestation, so a condition
    on them does not match a request without one)."""
    return dict(attestation.condition_values()) if attestation is not None else {}


def for_recipient(attestation: Attestation, secret: bytes) -> str:
    """``CiphertextForRecipient``, base64: the secret in a CMS EnvelopedData for the enclave's key."""
    return b64(envelope_for_recipient(secret, attestation.public_key))
