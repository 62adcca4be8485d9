"""The AWS Encryption SDK message format: header, frame and footer layouts, versions 1 and 2.

Written from the public specification (awslabs/aws-encryption-sdk-specification, ``data-format/
message-header.md``, ``message-body.md``, ``message-body-aad.md``, ``message-footer.md``). All integers are
big-endian. Strongroom writes version 2 (framed, committing suites) and reads both versions; which suites a
caller accepts is decided above this module.

Header, version 2::

    version (1) = 0x02 | suite id (2) | message id (32) | AAD length (2) | AAD |
    EDK count (2) | EDKs | content type (1) | frame length (4) |
    suite data (32, the key commitment) | header auth tag (16)

Header, version 1::

    version (1) = 0x01 | type (1) = 0x80 | suite id (2) | message id (16) | AAD length (2) | AAD |
    EDK count (2) | EDKs | content type (1) | reserved (4) = 0 | IV length (1) = 12 | frame length (4) |
    header auth IV (12) | header auth tag (16)

AAD is the serialized encryption context: pair count (2), then for each pair key length (2), key, value
length (2), value, sorted by the key's UTF-8 bytes; an empty context is no bytes at all (AAD length 0).
An EDK is provider id length (2), provider id, provider info length (2), provider info, ciphertext length
(2), ciphertext. Content type 0x02 is framed, 0x01 non-framed (frame length 0). The header auth tag is
AES-GCM over nothing, with the header bytes before it as AAD (and an all-zero IV in version 2).

Body, framed: regular frames are sequence number (4), IV (12), ciphertext (frame length), tag (16); the
final frame is 0xFFFFFFFF (4), sequence number (4), IV (12), content length (4), ciphertext, tag (16).
Body, non-framed: IV (12), content length (8), ciphertext, tag (16). The body AAD is message id | "AWSKMS
EncryptionClient Frame" (or "... Final Frame", "... Single Block") | sequence number (4, 1 when
non-framed) | content length (8).

Footer, signed suites only: signature length (2) | DER ECDSA signature over every byte before the footer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import BinaryIO, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.envelope.errors import MessageFormatError, NotAllowedError
from strongroom.envelope.suites import Suite

__all__ = [
    "FINAL_FRAME_MARKER",
    "IV_LENGTH",
    "MAX_NON_FRAMED_LENGTH",
    "MESSAGE_ID_LENGTH",
    "TAG_LENGTH",
    "ContentType",
    "EncryptedDataKey",
    "Header",
    "MessageFormatError",
    "Reader",
    "Suite",
    "body_aad",
    "commitment_key",
    "derive_content_key",
    "frame_iv",
    "parse_encryption_context",
    "serialize_encryption_context",
]

FINAL_FRAME_MARKER: Final = 0xFFFFFFFF
IV_LENGTH: Final = 12
TAG_LENGTH: Final = 16
COMMITMENT_LENGTH: Final = 32
MAX_NON_FRAMED_LENGTH: Final = 2**36 - 32  # the spec's bound for one AES-GCM invocation
_V1_TYPE: Final = 0x80
MESSAGE_ID_LENGTH: Final = 32  # what version 2 writes
_MESSAGE_ID_LENGTH: Final = {1: 16, 2: MESSAGE_ID_LENGTH}
_FRAME: Final = b"AWSKMSEncryptionClient Frame"
_FINAL_FRAME: Final = b"AWSKMSEncryptionClient Final Frame"
_SINGLE_BLOCK: Final = b"AWSKMSEncryptionClient Single Block"


class ContentType(IntEnum):
    NON_FRAMED = 0x01
    FRAMED = 0x02


def _hkdf(algorithm: hashes.HashAlgorithm, key: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=algorithm, length=length, salt=salt, info=info).derive(key)


def derive_content_key(suite: Suite, data_key: bytes, message_id: bytes) -> bytes:
    """The AES-GCM key of the header tag and the body, derived from the data key as the suite says."""
    algorithm = suite.kdf_hash
    if algorithm is None:
        return data_key
    if suite.committing:
        info = struct.pack(">H", suite) + b"DERIVEKEY"
        return _hkdf(algorithm, data_key, message_id, info, suite.data_key_length)
    return _hkdf(algorithm, data_key, None, struct.pack(">H", suite) + message_id, suite.data_key_length)


def commitment_key(data_key: bytes, message_id: bytes) -> bytes:
    """The key commitment stored in a version 2 header: HKDF-SHA512(salt=message id, info="COMMITKEY")."""
    return _hkdf(hashes.SHA512(), data_key, message_id, b"COMMITKEY", COMMITMENT_LENGTH)


def frame_iv(sequence_number: int) -> bytes:
    """The IV Strongroom writes: the sequence number in the last four bytes (readers accept any IV)."""
    return bytes(IV_LENGTH - 4) + struct.pack(">I", sequence_number)


def body_aad(message_id: bytes, content_type: ContentType, sequence: int, length: int, final: bool) -> bytes:
    label = _FINAL_FRAME if final else _FRAME
    if content_type is ContentType.NON_FRAMED:
        label = _SINGLE_BLOCK
    return message_id + label + struct.pack(">IQ", sequence, length)


def serialize_encryption_context(context: Mapping[str, str]) -> bytes:
    """The AAD section's content; the empty context serializes to no bytes."""
    if not context:
        return b""
    pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items())
    out = [struct.pack(">H", len(pairs))]
    for key, value in pairs:
        if len(key) > 0xFFFF or len(value) > 0xFFFF:
            raise ValueError("an encryption context key or value is longer than 65,535 bytes")
        out.append(struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value)
    serialized = b"".join(out)
    if len(serialized) > 0xFFFF:
        raise ValueError("the serialized encryption context is longer than 65,535 bytes")
    return serialized


class Reader:
    """Exact reads from a binary stream (looping over short reads, as pipes give them).

    Every chunk read is passed to each of ``taps``: the message signature's hash, a spool, or a recorder
    for the header authentication tag."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.taps: list[Callable[[bytes], object]] = []
        self.consumed = 0

    def take(self, count: int) -> bytes:
        chunk = self.source.read(count) or b""
        while len(chunk) < count:
            more = self.source.read(count - len(chunk))
            if not more:
                raise MessageFormatError("The message is truncated.")
            chunk += more
        self.consumed += count
        for tap in self.taps:
            tap(chunk)
        return chunk

    @contextmanager
    def recording(self) -> Iterator[list[bytes]]:
        """Keep what is read inside the ``with`` block in the list it gives."""
        recorded: list[bytes] = []
        self.taps.append(recorded.append)
        try:
            yield recorded
        finally:
            self.taps.remove(recorded.append)

    def at_end(self) -> bool:
        return not self.source.read(1)

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack(">H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def short_bytes(self) -> bytes:
        return self.take(self.u16())


class _BytesSource:
    """A minimal BinaryIO over bytes, for parsing in-memory sections."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def read(self, count: int = -1) -> bytes:
        end = len(self._data) if count < 0 else self._offset + count
        chunk = bytes(self._data[self._offset : end])
        self._offset += len(chunk)
        return chunk


def parse_encryption_context(aad: bytes) -> dict[str, str]:
    if not aad:
        return {}
    reader = Reader(_BytesSource(aad))  # type: ignore[arg-type]
    context: dict[str, str] = {}
    count = reader.u16()
    if count == 0:
        raise MessageFormatError("The encryption context has a pair count of zero.")
    for _ in range(count):
        try:
            key, value = reader.short_bytes().decode("utf-8"), reader.short_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("The encryption context is not UTF-8.") from None
        if key in context:
            raise MessageFormatError("The encryption context repeats a key.")
        context[key] = value
    if reader.consumed != len(aad):
        raise MessageFormatError("The encryption context has trailing bytes.")
    return context


@dataclass(frozen=True, slots=True)
class EncryptedDataKey:
    provider_id: str  # "aws-kms"
    provider_info: str  # the KMS key ARN
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Header:
    """A message header; ``commitment`` is empty in version 1, ``frame_length`` 0 when non-framed."""

    suite: Suite
    message_id: bytes
    encryption_context: dict[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int
    commitment: bytes = b""
    content_type: ContentType = ContentType.FRAMED

    @property
    def version(self) -> int:
        return self.suite.message_format

    def body_bytes(self) -> bytes:
        """Everything the header authentication covers (the header without its IV and tag)."""
        aad = serialize_encryption_context(self.encryption_context)
        if self.version == 2:
            out = [struct.pack(">BH", 2, self.suite)]
        else:
            out = [struct.pack(">BBH", 1, _V1_TYPE, self.suite)]
        out += [self.message_id, struct.pack(">H", len(aad)), aad]
        out.append(struct.pack(">H", len(self.encrypted_data_keys)))
        for edk in self.encrypted_data_keys:
            for field in (edk.provider_id.encode("utf-8"), edk.provider_info.encode("utf-8"), edk.ciphertext):
                out.append(struct.pack(">H", len(field)) + field)
        if self.version == 2:
            out.append(struct.pack(">BI", self.content_type, self.frame_length) + self.commitment)
        else:
            out.append(struct.pack(">BIBI", self.content_type, 0, IV_LENGTH, self.frame_length))
        return b"".join(out)

    @staticmethod
    def read(reader: Reader, max_encrypted_data_keys: int | None = None) -> Header:
        """Read a header body from ``reader`` (the caller records the bytes for the header tag)."""
        version = reader.u8()
        if version not in (1, 2):
            raise MessageFormatError("This is not an AWS Encryption SDK message.")
        if version == 1 and reader.u8() != _V1_TYPE:
            raise MessageFormatError("This is not an AWS Encryption SDK message (unknown message type).")
        suite_id = reader.u16()
        try:
            suite = Suite(suite_id)
        except ValueError:
            raise MessageFormatError(f"Unsupported algorithm suite 0x{suite_id:04x}.") from None
        if suite.message_format != version:
            raise MessageFormatError(
                f"Algorithm suite 0x{suite_id:04x} is not valid in format version {version}."
            )
        message_id = reader.take(_MESSAGE_ID_LENGTH[version])
        context = parse_encryption_context(reader.short_bytes())
        keys = _read_encrypted_data_keys(reader, max_encrypted_data_keys)
        try:
            content_type = ContentType(reader.u8())
        except ValueError:
            raise MessageFormatError("The content type is unknown.") from None
        commitment = b""
        if version == 1:
            if reader.take(4) != bytes(4):
                raise MessageFormatError("The header's reserved bytes are not zero.")
            if reader.u8() != IV_LENGTH:
                raise MessageFormatError("The header's IV length does not match the algorithm suite.")
        frame_length = reader.u32()
        if version == 2:
            commitment = reader.take(COMMITMENT_LENGTH)
        if (content_type is ContentType.FRAMED) != (frame_length > 0):
            raise MessageFormatError("The frame length does not match the content type.")
        return Header(suite, message_id, context, keys, frame_length, commitment, content_type)

    @staticmethod
    def parse(data: bytes, max_encrypted_data_keys: int | None = None) -> tuple[Header, int]:
        """Parse a header from the start of ``data``; returns it and the offset of its authentication."""
        reader = Reader(_BytesSource(data))  # type: ignore[arg-type]
        header = Header.read(reader, max_encrypted_data_keys)
        return header, reader.consumed


def _read_encrypted_data_keys(reader: Reader, maximum: int | None) -> tuple[EncryptedDataKey, ...]:
    count = reader.u16()
    if count == 0:
        raise MessageFormatError("The message has no encrypted data keys.")
    if maximum is not None and count > maximum:
        raise NotAllowedError(f"The message has {count} encrypted data keys, over the maximum of {maximum}.")
    keys = []
    for _ in range(count):
        try:
            provider_id = reader.short_bytes().decode("utf-8")
            provider_info = reader.short_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("An encrypted data key's provider is not UTF-8.") from None
        keys.append(EncryptedDataKey(provider_id, provider_info, reader.short_bytes()))
    return tuple(keys)
