"""Encrypt and decrypt whole messages in memory (the streaming API builds on the same pieces).

A first, complete slice of ``strongroom.envelope``: GenerateDataKey under the first key, Encrypt under the
others (one encrypted data key each), committing suites with or without the ECDSA P-384 signature, framed
content. Decrypt checks the commitment before the header tag, every frame, and the signature, and uses only
the KMS keys it is told to trust.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.envelope.message import (
    FINAL_FRAME_MARKER,
    HEADER_IV,
    MESSAGE_ID_LENGTH,
    TAG_LENGTH,
    EncryptedDataKey,
    Header,
    MessageFormatError,
    Reader,
    Suite,
    commitment_key,
    derive_data_key,
    frame_aad,
    frame_iv,
)

__all__ = ["DecryptionError", "decrypt_bytes", "encrypt_bytes"]

PUBLIC_KEY_CONTEXT: Final = "aws-crypto-public-key"
PROVIDER_ID: Final = "aws-kms"
DEFAULT_FRAME_LENGTH: Final = 4096
DEFAULT_MAX_ENCRYPTED_DATA_KEYS: Final = 10


class DecryptionError(ValueError):
    """The message cannot be decrypted: tampered, truncated, wrong key or context, untrusted key."""


def encrypt_bytes(
    kms: Any,
    key_ids: Sequence[str],
    plaintext: bytes,
    encryption_context: Mapping[str, str] | None = None,
    *,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    signed: bool = True,
) -> bytes:
    """One message holding ``plaintext``, decryptable with any of ``key_ids``."""
    if not key_ids:
        raise ValueError("at least one KMS key is needed")
    if not 1 <= frame_length <= 2**32 - 1:
        raise ValueError("frame_length must be between 1 and 2**32 - 1")
    context = dict(encryption_context or {})
    if PUBLIC_KEY_CONTEXT in context or any(k.startswith("aws-crypto-") for k in context):
        raise ValueError("encryption context keys starting with 'aws-crypto-' are reserved")
    suite = (
        Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
        if signed
        else Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
    )
    signer = ec.generate_private_key(ec.SECP384R1()) if signed else None
    if signer is not None:
        point = signer.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        context[PUBLIC_KEY_CONTEXT] = base64.b64encode(point).decode("ascii")
    generated = kms.generate_data_key(KeyId=key_ids[0], KeySpec="AES_256", EncryptionContext=context)
    data_key: bytes = generated["Plaintext"]
    edks = [EncryptedDataKey(PROVIDER_ID, generated["KeyId"], generated["CiphertextBlob"])]
    for key_id in key_ids[1:]:
        extra = kms.encrypt(KeyId=key_id, Plaintext=data_key, EncryptionContext=context)
        edks.append(EncryptedDataKey(PROVIDER_ID, extra["KeyId"], extra["CiphertextBlob"]))
    message_id = os.urandom(MESSAGE_ID_LENGTH)
    header = Header(
        suite, message_id, context, tuple(edks), frame_length, commitment_key(data_key, message_id)
    )
    aead = AESGCM(derive_data_key(suite, data_key, message_id))
    header_bytes = header.body_bytes()
    out = [header_bytes, aead.encrypt(HEADER_IV, b"", header_bytes)]
    sequence = 1
    offset = 0
    view = memoryview(plaintext)
    while len(plaintext) - offset > frame_length:  # regular frames; the final one holds the rest (0..frame)
        chunk = view[offset : offset + frame_length]
        sealed = aead.encrypt(frame_iv(sequence), chunk, frame_aad(message_id, sequence, frame_length, False))
        out.append(struct.pack(">I", sequence) + frame_iv(sequence) + sealed)
        offset += frame_length
        sequence += 1
    rest = view[offset:]
    sealed = aead.encrypt(frame_iv(sequence), rest, frame_aad(message_id, sequence, len(rest), True))
    out.append(struct.pack(">II", FINAL_FRAME_MARKER, sequence) + frame_iv(sequence))
    out.append(struct.pack(">I", len(rest)) + sealed)
    message = b"".join(out)
    if signer is not None:
        signature = signer.sign(message, ec.ECDSA(hashes.SHA384()))
        message += struct.pack(">H", len(signature)) + signature
    return message


def decrypt_bytes(
    kms: Any,
    message: bytes,
    *,
    key_ids: Sequence[str] | None = None,
    encryption_context: Mapping[str, str] | None = None,
    max_encrypted_data_keys: int = DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
) -> tuple[bytes, dict[str, str]]:
    """The plaintext and the message's encryption context.

    ``key_ids`` (strict mode): only encrypted data keys under these key ARNs are tried; None tries every
    ``aws-kms`` one (discovery). ``encryption_context``: pairs that must be in the message's context."""
    try:
        header, tag_offset = Header.parse(message, max_encrypted_data_keys)
    except MessageFormatError as error:
        raise DecryptionError(str(error)) from None
    for name, value in (encryption_context or {}).items():
        if header.encryption_context.get(name) != value:
            raise DecryptionError("The message's encryption context does not match the expected one.")
    data_key = _decrypt_data_key(kms, header, key_ids)
    if commitment_key(data_key, header.message_id) != header.commitment:
        raise DecryptionError("Key commitment does not match: the message was tampered with.")
    aead = AESGCM(derive_data_key(header.suite, data_key, header.message_id))
    reader = Reader(message)
    reader.offset = tag_offset
    try:
        aead.decrypt(HEADER_IV, reader.take(TAG_LENGTH), message[:tag_offset])
        plaintext = _read_frames(aead, header, reader)
        body_end = reader.offset
        if header.suite.signed:
            _verify(header, message[:body_end], reader)
        if reader.offset != len(message):
            raise DecryptionError("The message has trailing bytes.")
    except InvalidTag:
        raise DecryptionError("The message was tampered with (authentication failed).") from None
    except MessageFormatError as error:
        raise DecryptionError(str(error)) from None
    return plaintext, header.encryption_context


def _decrypt_data_key(kms: Any, header: Header, key_ids: Sequence[str] | None) -> bytes:
    trusted = set(key_ids) if key_ids is not None else None
    last_error: Exception | None = None
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
            last_error = error
            continue
        plaintext: bytes = answer["Plaintext"]
        if answer.get("KeyId") == edk.provider_info and len(plaintext) == 32:
            return plaintext
    if last_error is not None:
        raise DecryptionError(f"No encrypted data key could be decrypted: {last_error}")
    raise DecryptionError("None of the message's encrypted data keys is under a trusted KMS key.")


def _read_frames(aead: AESGCM, header: Header, reader: Reader) -> bytes:
    out = []
    expected = 1
    while True:
        sequence = reader.u32()
        final = sequence == FINAL_FRAME_MARKER
        if final:
            sequence = reader.u32()
        if sequence != expected:
            raise MessageFormatError("Frames are out of order.")
        iv = reader.take(12)
        if iv != frame_iv(sequence):
            raise MessageFormatError("A frame has an unexpected IV.")
        length = reader.u32() if final else header.frame_length
        if length > header.frame_length:
            raise MessageFormatError("The final frame is longer than the frame length.")
        sealed = reader.take(length + TAG_LENGTH)
        out.append(aead.decrypt(iv, sealed, frame_aad(header.message_id, sequence, length, final)))
        if final:
            return b"".join(out)
        expected += 1


def _verify(header: Header, signed_bytes: bytes, reader: Reader) -> None:
    encoded = header.encryption_context.get(PUBLIC_KEY_CONTEXT)
    if encoded is None:
        raise DecryptionError("A signed message has no public key in its encryption context.")
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), base64.b64decode(encoded))
        public.verify(reader.short_bytes(), signed_bytes, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError):
        raise DecryptionError("The message signature does not verify.") from None
