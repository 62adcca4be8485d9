"""Tests of the version-1 symmetric ciphertext blob: known answers, round trips and tampering."""

from __future__ import annotations

import hmac
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.clock import SystemRandom
from strongroom.domain.ciphertext import (
    HEADER_LENGTH,
    MAX_BLOB_LENGTH,
    MIN_BLOB_LENGTH,
    TAG_LENGTH,
    CiphertextHeader,
    MaterialCipher,
    encode_key_id,
    parse_header,
)
from strongroom.domain.encryption_context import canonical_encryption_context
from strongroom.errors import InvalidCiphertextException

UUID_KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
MRK_KEY = "mrk-0123456789abcdef0123456789abcdef"
SECRET = bytes(range(32))
FIXED_RANDOM = bytes(range(0xA0, 0xA0 + 28))  # salt a0..af, nonce b0..bb
CONTEXT = {"purpose": "test", "Tenant": "acme"}


class FixedRandom:
    """A Random that always returns the same bytes, whatever ``n`` is (to test a short read too)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[int] = []

    def bytes(self, n: int) -> bytes:
        self.calls.append(n)
        return self.data


def _independent_blob(kind: int, raw_id: bytes, version: int, plaintext: bytes, aad: bytes) -> bytes:
    """The format rebuilt from the primitives and the documented layout, not from the module."""
    salt, nonce = FIXED_RANDOM[:16], FIXED_RANDOM[16:]
    header = bytes([1, kind]) + raw_id + version.to_bytes(4, "big") + salt + nonce
    assert len(header) == 50
    kdf_input = (
        (1).to_bytes(4, "big") + b"strongroom ciphertext v1" + b"\x00" + salt + (256).to_bytes(4, "big")
    )
    dk = hmac.digest(SECRET, kdf_input, "sha256")
    return header + AESGCM(dk).encrypt(nonce, plaintext, header + aad)


# -- known answers -----------------------------------------------------------------------------------
UUID_VECTOR = (
    "01011234abcd12ab34cd56ef1234567890ab00000001"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babb"
    "7aefe3feb951f69a1e1f4c6c7208b0e1"
    "2852eecea6709e07f373b9d10206b676"
)
MRK_VECTOR = (
    "01020123456789abcdef0123456789abcdef00000007"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
    "b0b1b2b3b4b5b6b7b8b9babb"
    "128a8f92d67185ee6c70220b0067df8c926cad22f17975bdad977a4f21bcdcca"
    "4f1f24910c0905c2532145e95ebd0b92"
)


def test_known_answer_uuid_key() -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    aad = canonical_encryption_context(CONTEXT)
    rng = FixedRandom(FIXED_RANDOM)
    blob = cipher.encrypt(b"hello strongroom", aad, rng)
    assert rng.calls == [28]
    expected = _independent_blob(1, uuid.UUID(UUID_KEY).bytes, 1, b"hello strongroom", aad)
    assert blob == expected
    assert blob.hex() == UUID_VECTOR
    assert cipher.decrypt(bytes.fromhex(UUID_VECTOR), aad) == b"hello strongroom"


def test_known_answer_mrk_key() -> None:
    cipher = MaterialCipher(MRK_KEY, 7, SECRET)
    aad = canonical_encryption_context(None)
    blob = cipher.encrypt(bytes(32), aad, FixedRandom(FIXED_RANDOM))
    expected = _independent_blob(2, bytes.fromhex(MRK_KEY[4:]), 7, bytes(32), aad)
    assert blob == expected
    assert blob.hex() == MRK_VECTOR
    assert cipher.decrypt(bytes.fromhex(MRK_VECTOR), aad) == bytes(32)


# -- round trips and headers -----------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 32, 4096])
@pytest.mark.parametrize("key_id", [UUID_KEY, MRK_KEY])
def test_round_trip(key_id: str, length: int) -> None:
    cipher = MaterialCipher(key_id, 3, SECRET)
    aad = canonical_encryption_context(CONTEXT)
    plaintext = bytes(i % 251 for i in range(length))
    blob = cipher.encrypt(plaintext, aad, SystemRandom())
    assert len(blob) == HEADER_LENGTH + length + TAG_LENGTH
    assert cipher.decrypt(blob, aad) == plaintext
    assert parse_header(blob) == CiphertextHeader(key_id, 3)


def test_random_salt_and_nonce_differ_per_message() -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    blobs = {cipher.encrypt(b"same", b"\x00\x00", SystemRandom()) for _ in range(20)}
    assert len(blobs) == 20


def test_maximum_blob_round_trips() -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    plaintext = b"x" * (MAX_BLOB_LENGTH - MIN_BLOB_LENGTH)
    blob = cipher.encrypt(plaintext, b"\x00\x00", SystemRandom())
    assert len(blob) == MAX_BLOB_LENGTH
    assert cipher.decrypt(blob, b"\x00\x00") == plaintext
    with pytest.raises(ValueError):
        cipher.encrypt(plaintext + b"x", b"\x00\x00", SystemRandom())


def test_parse_header_both_kinds() -> None:
    assert parse_header(bytes.fromhex(UUID_VECTOR)) == CiphertextHeader(UUID_KEY, 1)
    assert parse_header(bytes.fromhex(MRK_VECTOR)) == CiphertextHeader(MRK_KEY, 7)
    big = MaterialCipher(UUID_KEY, 0xFFFFFFFF, SECRET).encrypt(b"x", b"\x00\x00", SystemRandom())
    assert parse_header(big).material_version == 0xFFFFFFFF


@pytest.mark.parametrize(
    ("offset", "value"),
    [(0, 0x00), (0, 0x02), (0, 0xFF), (1, 0x00), (1, 0x03), (1, 0xFF)],
)
def test_parse_header_rejects_unknown_version_and_kind(offset: int, value: int) -> None:
    blob = bytearray.fromhex(UUID_VECTOR)
    blob[offset] = value
    with pytest.raises(InvalidCiphertextException):
        parse_header(bytes(blob))


def test_parse_header_rejects_material_version_zero_and_bad_lengths() -> None:
    blob = bytearray.fromhex(UUID_VECTOR)
    blob[18:22] = bytes(4)
    with pytest.raises(InvalidCiphertextException):
        parse_header(bytes(blob))
    good = bytes.fromhex(UUID_VECTOR)
    for bad in (b"", good[: MIN_BLOB_LENGTH - 1], good + bytes(MAX_BLOB_LENGTH + 1 - len(good))):
        with pytest.raises(InvalidCiphertextException):
            parse_header(bad)
    assert parse_header(good[:MIN_BLOB_LENGTH]) == CiphertextHeader(UUID_KEY, 1)
    assert parse_header(good + bytes(MAX_BLOB_LENGTH - len(good))) == CiphertextHeader(UUID_KEY, 1)


def test_encode_key_id() -> None:
    assert encode_key_id(UUID_KEY) == b"\x01" + uuid.UUID(UUID_KEY).bytes
    assert encode_key_id(MRK_KEY) == b"\x02" + bytes.fromhex(MRK_KEY[4:])
    for bad in (
        "",
        "alias/foo",
        UUID_KEY.upper(),
        UUID_KEY.replace("-", ""),
        UUID_KEY + "\n",
        "mrk-" + "0" * 31,
        "mrk-" + "A" * 32,
        "MRK-" + "0" * 32,
        "arn:aws:kms:us-east-1:111122223333:key/" + UUID_KEY,
    ):
        with pytest.raises(ValueError):
            encode_key_id(bad)


def test_material_cipher_rejects_bad_arguments() -> None:
    for secret in (b"", bytes(16), bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            MaterialCipher(UUID_KEY, 1, secret)
    for version in (0, -1, 2**32):
        with pytest.raises(ValueError):
            MaterialCipher(UUID_KEY, version, SECRET)
    with pytest.raises(ValueError):
        MaterialCipher("not-a-key", 1, SECRET)
    with pytest.raises(ValueError):
        MaterialCipher(UUID_KEY, 1, SECRET).encrypt(b"x", b"\x00\x00", FixedRandom(bytes(27)))
    assert SECRET.hex() not in repr(MaterialCipher(UUID_KEY, 1, SECRET))


# -- tampering -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", [UUID_VECTOR, MRK_VECTOR], ids=["uuid", "mrk"])
def test_flipping_any_byte_fails(vector: str) -> None:
    good = bytes.fromhex(vector)
    original = parse_header(good)
    key_id = original.key_id
    cipher = MaterialCipher(key_id, original.material_version, SECRET)
    aad = canonical_encryption_context(CONTEXT if key_id == UUID_KEY else None)
    assert cipher.decrypt(good, aad)
    for i in range(len(good)):
        tampered = bytearray(good)
        tampered[i] ^= 0x01
        with pytest.raises(InvalidCiphertextException):
            cipher.decrypt(bytes(tampered), aad)
        if i < 22:  # routing header: must not route to the same key material
            try:
                header = parse_header(bytes(tampered))
            except InvalidCiphertextException:
                continue
            assert header != original


@pytest.mark.parametrize("vector", [UUID_VECTOR, MRK_VECTOR], ids=["uuid", "mrk"])
def test_every_truncation_fails(vector: str) -> None:
    good = bytes.fromhex(vector)
    header = parse_header(good)
    cipher = MaterialCipher(header.key_id, header.material_version, SECRET)
    aad = canonical_encryption_context(CONTEXT if header.key_id == UUID_KEY else None)
    for n in range(len(good)):
        with pytest.raises(InvalidCiphertextException):
            cipher.decrypt(good[:n], aad)


def test_over_length_blob_rejected() -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    good = bytes.fromhex(UUID_VECTOR)
    too_long = good + bytes(MAX_BLOB_LENGTH + 1 - len(good))
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(too_long, canonical_encryption_context(CONTEXT))
    with pytest.raises(InvalidCiphertextException):
        parse_header(too_long)


@pytest.mark.parametrize(
    "context",
    [
        None,  # missing
        {},
        {"purpose": "test"},  # a pair dropped
        {"purpose": "test", "Tenant": "acme", "extra": "1"},  # a pair added
        {"purpose": "Test", "Tenant": "acme"},  # value case changed
        {"Purpose": "test", "Tenant": "acme"},  # key case changed
        {"purpose": "test", "Tenant": "acme "},
        {"purpose": "test", "tenant": "acme"},
    ],
)
def test_wrong_context_fails(context: dict[str, str] | None) -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(bytes.fromhex(UUID_VECTOR), canonical_encryption_context(context))


def test_ambiguous_looking_contexts_are_distinct() -> None:
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    blob = cipher.encrypt(b"secret", canonical_encryption_context({"a": "bc"}), SystemRandom())
    assert cipher.decrypt(blob, canonical_encryption_context({"a": "bc"})) == b"secret"
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(blob, canonical_encryption_context({"ab": "c"}))
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(blob, canonical_encryption_context(None))
    empty = cipher.encrypt(b"secret", canonical_encryption_context(None), SystemRandom())
    with pytest.raises(InvalidCiphertextException):
        cipher.decrypt(empty, canonical_encryption_context({"a": "bc"}))


@pytest.mark.parametrize(
    ("key_id", "version", "secret"),
    [
        (UUID_KEY, 2, SECRET),  # another material version of the same key, same secret even
        ("1234abcd-12ab-34cd-56ef-1234567890ac", 1, SECRET),  # another key, same secret
        ("mrk-1234abcd12ab34cd56ef1234567890ab", 1, SECRET),  # same 16 id bytes, other kind
        (UUID_KEY, 1, bytes(32)),  # right header, wrong secret: the tag must fail
    ],
)
def test_blob_from_other_material_fails(key_id: str, version: int, secret: bytes) -> None:
    other = MaterialCipher(key_id, version, secret)
    with pytest.raises(InvalidCiphertextException):
        other.decrypt(bytes.fromhex(UUID_VECTOR), canonical_encryption_context(CONTEXT))


def test_blob_sealed_by_other_version_fails_here() -> None:
    aad = canonical_encryption_context(CONTEXT)
    v2 = MaterialCipher(UUID_KEY, 2, SECRET).encrypt(b"data", aad, SystemRandom())
    with pytest.raises(InvalidCiphertextException):
        MaterialCipher(UUID_KEY, 1, SECRET).decrypt(v2, aad)


def test_exception_is_opaque() -> None:
    assert InvalidCiphertextException().message is None
    cipher = MaterialCipher(UUID_KEY, 1, SECRET)
    with pytest.raises(InvalidCiphertextException) as info:
        cipher.decrypt(bytes.fromhex(UUID_VECTOR), b"\x00\x00")
    assert info.value.message is None
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
