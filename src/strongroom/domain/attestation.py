"""Nitro Enclaves attestation documents (the ``Recipient`` of Decrypt, GenerateDataKey, GenerateDataKeyPair,
GenerateRandom and DeriveSharedSecret): verifying them, and wrapping a secret for the enclave.

A document is a COSE_Sign1 structure (RFC 9052), CBOR ``[protected, unprotected, payload, signature]``,
optionally under CBOR tag 18. Its protected header names ES384; its payload is a CBOR map with
``module_id``, ``timestamp`` (milliseconds), ``digest`` (``SHA384``), ``pcrs`` (index to bytes),
``certificate`` (the signing certificate, DER), ``cabundle`` (DER certificates from the root down to the
certificate's issuer), and optionally ``public_key``, ``user_data`` and ``nonce``.

:func:`verify_attestation` accepts a document only if

1. it parses as above, and names ES384;
2. ``cabundle[0]`` is one of the trusted roots (byte for byte), and each certificate after it, then the
   signing certificate, is issued and signed by the one before it, and is valid now;
3. the COSE signature (ECDSA P-384 over SHA-384, raw ``r || s``) over ``["Signature1", protected, b"",
   payload]`` verifies with the signing certificate's key;
4. its timestamp is at most :data:`MAX_AGE_SECONDS` old (and not ahead of the clock by more than
   :data:`MAX_SKEW_SECONDS`);
5. it carries a ``public_key``: an RSA key of 2048 bits or more, the one the secret is wrapped to.

:func:`envelope_for_recipient` wraps a secret as AWS's ``CiphertextForRecipient``: a CMS (RFC 5652)
ContentInfo holding EnvelopedData version 2 with one KeyTransRecipientInfo version 2 (the recipient named by
the SHA-1 subject key identifier of its public key), RSAES-OAEP with SHA-256 and MGF1-SHA-256 key
transport, and AES-256-CBC content encryption (PKCS#7 padding, the IV as the algorithm's parameter).
``openssl cms -decrypt -inkey <enclave key>`` opens it.

The AWS Nitro Enclaves root certificate (G1) is built in; its SHA-256 fingerprint is
``641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b``, as AWS publishes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import cbor2
from asn1crypto import algos, cms, core, keys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from strongroom.errors import ValidationException

__all__ = [
    "AWS_NITRO_ROOT_PEM",
    "Attestation",
    "envelope_for_recipient",
    "verify_attestation",
]

MAX_AGE_SECONDS: Final = 300.0
MAX_SKEW_SECONDS: Final = 60.0
_COSE_ES384: Final = -35
_COSE_SIGN1_TAG: Final = 18

AWS_NITRO_ROOT_PEM: Final = b"""-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
"""


@dataclass(frozen=True, slots=True)
class Attestation:
    """What a verified document says: the enclave's measurements and the key to wrap secrets to."""

    module_id: str
    timestamp: float  # seconds
    pcrs: dict[int, bytes] = field(repr=False)
    public_key: rsa.RSAPublicKey = field(repr=False)

    def condition_values(self) -> dict[str, str]:
        """``kms:RecipientAttestation:ImageSha384`` (PCR0) and ``kms:RecipientAttestation:PCR<n>``, as
        lower-case hex, for policy conditions."""
        values = {f"kms:RecipientAttestation:PCR{index}": value.hex() for index, value in self.pcrs.items()}
        if 0 in self.pcrs:
            values["kms:RecipientAttestation:ImageSha384"] = self.pcrs[0].hex()
        return values


def _invalid(reason: str) -> ValidationException:
    return ValidationException(f"The attestation document in Recipient is not valid: {reason}.")


def verify_attestation(document: bytes, roots: Sequence[bytes], now: float) -> Attestation:
    """The attestation in ``document`` if every check in the module docstring passes; ValidationException
    naming the first that fails otherwise. ``roots`` are DER certificates."""
    protected, payload, signature = _cose_sign1(document)
    try:
        header = cbor2.loads(protected) if protected else {}
        fields = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError):
        raise _invalid("its header or payload is not CBOR") from None
    if not isinstance(header, dict) or header.get(1) != _COSE_ES384:
        raise _invalid("it is not signed with ES384")
    if not isinstance(fields, dict):
        raise _invalid("its payload is not a map")
    leaf = _verified_chain(fields, roots, now)
    _verify_cose_signature(leaf, protected, payload, signature)
    timestamp = _number(fields, "timestamp") / 1000.0
    if timestamp < now - MAX_AGE_SECONDS:
        raise _invalid("it is older than five minutes")
    if timestamp > now + MAX_SKEW_SECONDS:
        raise _invalid("its timestamp is in the future")
    return Attestation(
        module_id=str(fields.get("module_id") or ""),
        timestamp=timestamp,
        pcrs=_pcrs(fields),
        public_key=_recipient_key(fields),
    )


def _cose_sign1(document: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        decoded: Any = cbor2.loads(document)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError):
        raise _invalid("it is not CBOR") from None
    if isinstance(decoded, cbor2.CBORTag):
        if decoded.tag != _COSE_SIGN1_TAG:
            raise _invalid("it is not a COSE_Sign1 structure")
        decoded = decoded.value
    if not isinstance(decoded, list | tuple) or len(decoded) != 4:  # cbor2 gives a tuple inside a tag
        raise _invalid("it is not a COSE_Sign1 structure")
    protected, _unprotected, payload, signature = decoded
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        raise _invalid("it is not a COSE_Sign1 structure")
    return protected, payload, signature


def _certificate(data: object, what: str) -> x509.Certificate:
    if not isinstance(data, bytes):
        raise _invalid(f"its {what} is missing")
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise _invalid(f"its {what} is not a DER certificate") from None


def _verified_chain(fields: dict[Any, Any], roots: Sequence[bytes], now: float) -> x509.Certificate:
    bundle = fields.get("cabundle")
    if not isinstance(bundle, list) or not bundle:
        raise _invalid("its cabundle is missing")
    if bundle[0] not in roots:
        raise _invalid("its certificate chain does not start at a trusted root")
    chain = [_certificate(item, "cabundle entry") for item in bundle]
    chain.append(_certificate(fields.get("certificate"), "certificate"))
    moment = datetime.fromtimestamp(now, UTC)
    for issuer, subject in zip(chain, chain[1:], strict=False):
        try:
            subject.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise _invalid(f"{subject.subject.rfc4514_string()} is not signed by its issuer") from None
    for certificate in chain:
        if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
            raise _invalid(f"the certificate {certificate.subject.rfc4514_string()} is not valid now")
    return chain[-1]


def _verify_cose_signature(
    leaf: x509.Certificate, protected: bytes, payload: bytes, signature: bytes
) -> None:
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp384r1":
        raise _invalid("its certificate does not hold a P-384 key")
    if len(signature) != 96:
        raise _invalid("its signature is not an ES384 signature")
    der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        public.verify(der, to_be_signed, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise _invalid("its signature does not verify") from None


def _number(fields: dict[Any, Any], name: str) -> float:
    value = fields.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"its {name} is missing")
    return float(value)


def _pcrs(fields: dict[Any, Any]) -> dict[int, bytes]:
    pcrs = fields.get("pcrs") or {}
    if not isinstance(pcrs, dict) or not all(
        isinstance(k, int) and isinstance(v, bytes) for k, v in pcrs.items()
    ):
        raise _invalid("its pcrs are not a map of indexes to bytes")
    return dict(pcrs)


def _recipient_key(fields: dict[Any, Any]) -> rsa.RSAPublicKey:
    data = fields.get("public_key")
    if not isinstance(data, bytes):
        raise _invalid("it holds no public key")
    try:
        key = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise _invalid("its public key is not a DER SubjectPublicKeyInfo") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise _invalid("its public key is not an RSA key of 2048 bits or more")
    return key


def envelope_for_recipient(secret: bytes, recipient: rsa.RSAPublicKey) -> bytes:
    """``CiphertextForRecipient``: ``secret`` in a CMS EnvelopedData for ``recipient`` (see the module
    docstring for the layout)."""
    content_key, iv = os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(secret) + padder.finalize()
    encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()
    encrypted_key = recipient.encrypt(
        content_key,
        asymmetric_padding.OAEP(
            mgf=asymmetric_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        ),
    )
    spki = recipient.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_identifier = hashlib.sha1(_subject_public_key_bits(spki)).digest()  # RFC 5280 4.2.1.2, method 1
    sha256 = algos.DigestAlgorithm({"algorithm": "sha256"})
    recipient_info = cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {
                "version": "v2",
                "rid": cms.RecipientIdentifier(name="subject_key_identifier", value=key_identifier),
                "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                    {
                        "algorithm": "rsaes_oaep",
                        "parameters": algos.RSAESOAEPParams(
                            {
                                "hash_algorithm": sha256,
                                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": sha256},
                            }
                        ),
                    }
                ),
                "encrypted_key": encrypted_key,
            }
        ),
    )
    enveloped = cms.EnvelopedData(
        {
            "version": "v2",
            "recipient_infos": [recipient_info],
            "encrypted_content_info": cms.EncryptedContentInfo(
                {
                    "content_type": "data",
                    "content_encryption_algorithm": algos.EncryptionAlgorithm(
                        {"algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}
                    ),
                    "encrypted_content": encrypted_content,
                }
            ),
        }
    )
    return bytes(cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump())


def _subject_public_key_bits(spki: bytes) -> bytes:
    """The bytes of a DER SubjectPublicKeyInfo's subjectPublicKey BIT STRING (after its unused-bits
    octet, which is 0 for a key)."""
    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
