"""The AWS Encryption SDK message format, version 2: header, framed body and footer layouts.

Written from the public specification (awslabs/aws-encryption-sdk-specification, ``data-format/
message-header.md``, ``message-body.md``, ``message-footer.md``, ``framework/algorithm-suites.md``). Only the
committing suites of format version 2 are written; all integers are big-endian.

Header (version 2)::

    version (1) = 0x02 | suite id (2) | message id (32) | AAD length (2) | AAD |
    EDK count (2) | EDKs | content type (1) = 0x02 framed | frame length (4) |
    suite data (32, the commitment key) | header auth tag (16)

AAD is the serialized encryption context: pair count (2), then for each pair key length (2), key, value
length (2), value, sorted by the key's UTF-8 bytes; an empty context is no bytes at all (AAD length 0).
An EDK is provider id length (2), provider id, provider info length (2), provider info, ciphertext length
(2), ciphertext. The header auth tag is AES-GCM over nothing, with an all-zero IV and the header bytes
before it as AAD.

Body frames: sequence number (4), IV (12), ciphertext (frame length), tag (16). The final frame: 0xFFFFFFFF
(4), sequence number (4), IV (12), content length (4), ciphertext, tag (16). A frame's IV is its sequence
number in the last four bytes; its AAD is message id | "AWSKMSEncryptionClient Frame" (or "... Final Frame")
| sequence number (4) | content length (8).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "FINAL_FRAME_MARKER",
    "HEADER_IV",
    "EncryptedDataKey",
    "Header",
    "MessageFormatError",
    "Reader",
    "Suite",
    "commitment_key",
    "derive_data_key",
    "frame_aad",
    "frame_iv",
    "parse_encryption_context",
    "serialize_encryption_context",
]

VERSION_2: Final = 0x02
CONTENT_FRAMED: Final = 0x02
FINAL_FRAME_MARKER: Final = 0xFFFFFFFF
MESSAGE_ID_LENGTH: Final = 32
COMMITMENT_LENGTH: Final = 32
TAG_LENGTH: Final = 16
IV_LENGTH: Final = 12
HEADER_IV: Final = bytes(IV_LENGTH)
_FRAME: Final = b"AWSKMSEncryptionClient Frame"
_FINAL_FRAME: Final = b"AWSKMSEncryptionClient Final Frame"


class MessageFormatError(ValueError):
    """The bytes are not a message we can read (unknown version or suite, truncated, malformed)."""


class Suite(IntEnum):
    """The committing algorithm suites of message format version 2."""

    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578

    @property
    def signed(self) -> bool:
        return self is Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384


def _hkdf_sha512(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=32, salt=salt, info=info).derive(key)


def derive_data_key(suite: Suite, data_key: bytes, message_id: bytes) -> bytes:
    """The content key: HKDF-SHA512(salt=message id, info=suite id || "DERIVEKEY")."""
    return _hkdf_sha512(data_key, message_id, struct.pack(">H", suite) + b"DERIVEKEY")


def commitment_key(data_key: bytes, message_id: bytes) -> bytes:
    """The key commitment stored in the header: HKDF-SHA512(salt=message id, info="COMMITKEY")."""
    return _hkdf_sha512(data_key, message_id, b"COMMITKEY")


def frame_iv(sequence_number: int) -> bytes:
    return bytes(IV_LENGTH - 4) + struct.pack(">I", sequence_number)


def frame_aad(message_id: bytes, sequence_number: int, length: int, final: bool) -> bytes:
    return message_id + (_FINAL_FRAME if final else _FRAME) + struct.pack(">IQ", sequence_number, length)


def serialize_encryption_context(context: Mapping[str, str]) -> bytes:
    """The AAD section's content; the empty context serializes to no bytes."""
    if not context:
        return b""
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items())
    out = [struct.pack(">H", len(pairs))]
    for key, value in pairs:
        out.append(struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value)
    return b"".join(out)


class Reader:
    """Reads big-endian fields from a buffer; MessageFormatError when it runs out."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, count: int) -> bytes:
        end = self.offset + count
        if end > len(self.data):
            raise MessageFormatError("The message is truncated.")
        chunk = bytes(self.data[self.offset : end])
        self.offset = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack(">H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def short_bytes(self) -> bytes:
        return self.take(self.u16())


def parse_encryption_context(aad: bytes) -> dict[str, str]:
    if not aad:
        return {}
    reader = Reader(aad)
    context: dict[str, str] = {}
    for _ in range(reader.u16()):
        try:
            key, value = reader.short_bytes().decode("utf-8"), reader.short_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("The encryption context is not UTF-8.") from None
        if key in context:
            raise MessageFormatError("The encryption context repeats a key.")
        context[key] = value
    if reader.offset != len(aad):
        raise MessageFormatError("The encryption context has trailing bytes.")
    return context


@dataclass(frozen=True, slots=True)
class EncryptedDataKey:
    provider_id: str  # "aws-kms"
    provider_info: str  # the KMS key ARN
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Header:
    suite: Suite
    message_id: bytes
    encryption_context: dict[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int
    commitment: bytes

    def body_bytes(self) -> bytes:
        """Everything the header authentication tag covers (the header without its tag)."""
        aad = serialize_encryption_context(self.encryption_context)
        out = [struct.pack(">BH", VERSION_2, self.suite), self.message_id, struct.pack(">H", len(aad)), aad]
        out.append(struct.pack(">H", len(self.encrypted_data_keys)))
        for edk in self.encrypted_data_keys:
            for field in (edk.provider_id.encode("utf-8"), edk.provider_info.encode("utf-8"), edk.ciphertext):
                out.append(struct.pack(">H", len(field)) + field)
        out.append(struct.pack(">BI", CONTENT_FRAMED, self.frame_length))
        out.append(self.commitment)
        return b"".join(out)

    @staticmethod
    def parse(data: bytes | memoryview, max_encrypted_data_keys: int | None = None) -> tuple[Header, int]:
        """Parse a header from the start of ``data``; returns it and the offset of its auth tag."""
        reader = Reader(data)
        version = reader.u8()
        if version != VERSION_2:
            if version == 0x01:
                raise MessageFormatError("Message format version 1 (non-committing) is not accepted.")
            raise MessageFormatError("This is not an AWS Encryption SDK message.")
        suite_id = reader.u16()
        try:
            suite = Suite(suite_id)
        except ValueError:
            raise MessageFormatError(f"Unsupported algorithm suite 0x{suite_id:04x}.") from None
        message_id = reader.take(MESSAGE_ID_LENGTH)
        context = parse_encryption_context(reader.short_bytes())
        count = reader.u16()
        if count == 0:
            raise MessageFormatError("The message has no encrypted data keys.")
        if max_encrypted_data_keys is not None and count > max_encrypted_data_keys:
            raise MessageFormatError(
                f"The message has {count} encrypted data keys, more than the maximum of "
                f"{max_encrypted_data_keys}."
            )
        keys = []
        for _ in range(count):
            try:
                provider_id = reader.short_bytes().decode("utf-8")
                provider_info = reader.short_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise MessageFormatError("An encrypted data key's provider is not UTF-8.") from None
            keys.append(EncryptedDataKey(provider_id, provider_info, reader.short_bytes()))
        if reader.u8() != CONTENT_FRAMED:
            raise MessageFormatError("Only framed content is supported.")
        frame_length = reader.u32()
        if frame_length == 0:
            raise MessageFormatError("The frame length is zero.")
        commitment = reader.take(COMMITMENT_LENGTH)
        header = Header(suite, message_id, context, tuple(keys), frame_length, commitment)
        return header, reader.offset
