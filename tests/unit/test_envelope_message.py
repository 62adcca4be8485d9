"""Message format layouts (versions 1 and 2): known bytes for the encryption context and headers, parse round
trips and checks, and each algorithm suite against the AWS Encryption SDK."""

from __future__ import annotations

import pytest

from strongroom.envelope.errors import NotAllowedError
from strongroom.envelope.message import (
    ContentType,
    EncryptedDataKey,
    Header,
    MessageFormatError,
    Suite,
    body_aad,
    commitment_key,
    derive_content_key,
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
    with pytest.raises(NotAllowedError, match="maximum"):
        Header.parse(data, max_encrypted_data_keys=0)
    with pytest.raises(MessageFormatError, match="not an AWS Encryption SDK message"):
        Header.parse(b"\x01" + data[1:])  # version 1 needs the 0x80 type byte next
    with pytest.raises(MessageFormatError, match="suite"):
        Header.parse(b"\x02\x01\x78" + data[3:])
    with pytest.raises(MessageFormatError, match="truncated"):
        Header.parse(data[:50])


def version_1_header(**changes: object) -> Header:
    fields: dict[str, object] = {
        "suite": Suite.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
        "message_id": bytes(range(16)),
        "encryption_context": {},
        "encrypted_data_keys": (EncryptedDataKey("aws-kms", "arn:k", b"\x07"),),
        "frame_length": 4096,
    }
    fields.update(changes)
    return Header(**fields)  # type: ignore[arg-type]


def test_version_1_header_layout() -> None:
    header = version_1_header()
    data = header.body_bytes()
    assert data[:4] == b"\x01\x80\x03\x78"  # version 1, type 0x80, suite 0x0378
    assert data[4:20] == bytes(range(16)) and data[20:22] == b"\x00\x00"  # message id; empty AAD
    assert data.endswith(b"\x02" + bytes(4) + b"\x0c" + (4096).to_bytes(4, "big"))  # reserved, IV length
    parsed, offset = Header.parse(data)
    assert parsed == header and offset == len(data)


def test_version_1_header_checks() -> None:
    data = version_1_header().body_bytes()
    for bad, match in [
        (data[:-9] + b"\x00\x00\x00\x01" + data[-5:], "reserved"),  # reserved bytes not zero
        (data[:-5] + b"\x10" + data[-4:], "IV length"),
        (data[:-4] + bytes(4), "frame length"),  # framed with a zero frame length
        (data[:-10] + b"\x03" + data[-9:], "content type"),
        (b"\x01\x81" + data[2:], "message type"),
        (b"\x01\x80\x04\x78" + data[4:], "not valid in format version 1"),
    ]:
        with pytest.raises(MessageFormatError, match=match):
            Header.parse(bad)
    non_framed = version_1_header(content_type=ContentType.NON_FRAMED, frame_length=0)
    assert Header.parse(non_framed.body_bytes())[0] == non_framed
    with pytest.raises(MessageFormatError, match="frame length"):
        Header.parse(version_1_header(content_type=ContentType.NON_FRAMED).body_bytes())


@pytest.mark.parametrize("suite", list(Suite))
def test_suites_match_the_aws_encryption_sdk(suite: Suite) -> None:
    """The ESDK for Python (a test dependency) is the oracle: each suite's parameters and key derivation."""
    from aws_encryption_sdk.identifiers import Algorithm
    from aws_encryption_sdk.internal.crypto.data_keys import derive_data_encryption_key

    theirs = Algorithm.get_by_id(int(suite))
    assert suite.data_key_length == theirs.data_key_len
    assert suite.committing == theirs.is_committing()
    assert suite.signed == (theirs.signing_algorithm_info is not None)
    assert suite.message_format == theirs.message_format_version
    data_key = bytes(range(suite.data_key_length))
    message_id = bytes(range(100, 100 + (32 if suite.committing else 16)))
    assert derive_content_key(suite, data_key, message_id) == derive_data_encryption_key(
        data_key, theirs, message_id
    )
    if suite.committing:
        from aws_encryption_sdk.internal.crypto.data_keys import calculate_commitment_key

        assert commitment_key(data_key, message_id) == calculate_commitment_key(data_key, theirs, message_id)
