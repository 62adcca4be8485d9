"""Message format v2 layouts: known bytes for the encryption context and header, and parse round trips."""

from __future__ import annotations

import pytest

from strongroom.envelope.message import (
    ContentType,
    EncryptedDataKey,
    Header,
    MessageFormatError,
    Suite,
    body_aad,
    frame_iv,
    parse_encryption_context,
    serialize_encryption_context,
)


def test_encryption_context_bytes() -> None:
    # Sorted by key bytes; count, then length-prefixed key and value; empty context is no bytes at all.
    assert serialize_encryption_context({}) == b""
    assert serialize_encryption_context({"b": "2", "a": "1"}) == (
        b"\x00\x02\x00\x01a\x00\x011\x00\x01b\x00\x012"
    )
    assert parse_encryption_context(serialize_encryption_context({"k": "v", "é": "ü"})) == {
        "k": "v",
        "é": "ü",
    }
    with pytest.raises(MessageFormatError):
        parse_encryption_context(b"\x00\x02\x00\x01a\x00\x011\x00\x01a\x00\x012")  # a repeated key
    with pytest.raises(MessageFormatError):
        parse_encryption_context(b"\x00\x01\x00\x05a")  # truncated


def test_frame_iv_and_aad() -> None:
    assert frame_iv(1) == bytes(11) + b"\x01"
    assert frame_iv(0x01020304) == bytes(8) + b"\x01\x02\x03\x04"
    message_id = bytes(range(32))
    assert body_aad(message_id, ContentType.FRAMED, 2, 4096, False) == (
        message_id + b"AWSKMSEncryptionClient Frame" + b"\x00\x00\x00\x02" + (4096).to_bytes(8, "big")
    )
    assert (
        body_aad(message_id, ContentType.FRAMED, 3, 7, True)[32:-12] == b"AWSKMSEncryptionClient Final Frame"
    )


def test_header_round_trip_and_layout() -> None:
    header = Header(
        Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        bytes(32),
        {"a": "b"},
        (EncryptedDataKey("aws-kms", "arn:k", b"\x01\x02"),),
        4096,
        b"\xcc" * 32,
    )
    data = header.body_bytes()
    assert data[:3] == b"\x02\x04\x78"  # version 2, suite 0x0478
    assert data[35:37] == b"\x00\x08"  # AAD length: count (2) + 2 + 1 + 2 + 1
    assert data.endswith(b"\x02" + (4096).to_bytes(4, "big") + b"\xcc" * 32)
    parsed, offset = Header.parse(data + bytes(16))
    assert parsed == header and offset == len(data)
    with pytest.raises(MessageFormatError, match="maximum"):
        Header.parse(data, max_encrypted_data_keys=0)
    with pytest.raises(MessageFormatError, match="not an AWS Encryption SDK message"):
        Header.parse(b"\x01" + data[1:])  # version 1 needs the 0x80 type byte next
    with pytest.raises(MessageFormatError, match="suite"):
        Header.parse(b"\x02\x01\x78" + data[3:])
    with pytest.raises(MessageFormatError, match="truncated"):
        Header.parse(data[:50])
