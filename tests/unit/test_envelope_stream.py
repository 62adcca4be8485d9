"""Streaming encryption and decryption against an in-process KMS: sizes, frame layout, the tamper and
truncation grids, no plaintext released before a signature verifies, limits, strict mode, bounded memory."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.envelope import (
    AuthenticationError,
    ContextMismatchError,
    DataKeyError,
    DecryptionError,
    DecryptOptions,
    EncryptionError,
    MessageFormatError,
    NotAllowedError,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
)
from strongroom.envelope.message import (
    ContentType,
    EncryptedDataKey,
    Header,
    Suite,
    body_aad,
    derive_content_key,
    frame_iv,
)
from tests.unit.envelope_fakes import FakeKms

FRAME = 64


class RecordingSink(io.RawIOBase):
    """Keeps each write, so tests see what was released and when."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.writes.append(bytes(data))
        return len(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


class PatternSource(io.RawIOBase):
    """``size`` bytes of a repeating pattern, produced on demand (never held in memory at once)."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = bytes(range(256)) * 256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.remaining, len(self.block))
        buffer[:count] = self.block[:count]
        self.remaining -= count
        return count


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms("one", "two", "three")


def plaintext_of(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def decrypt_to_sink(kms: FakeKms, message: bytes, **options: Any) -> tuple[RecordingSink, Header]:
    sink = RecordingSink()
    header = decrypt_stream(kms, io.BytesIO(message), sink, DecryptOptions(**options))  # type: ignore[arg-type]
    return sink, header


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize("size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME, 10 * FRAME + 7])
def test_stream_round_trip(kms: FakeKms, size: int, signed: bool) -> None:
    plaintext = plaintext_of(size)
    out = io.BytesIO()
    header = encrypt_stream(
        kms,
        [kms.arn("one")],
        io.BytesIO(plaintext),
        out,
        {"purpose": "test"},
        frame_length=FRAME,
        signed=signed,
    )
    assert header.suite.signed is signed and header.frame_length == FRAME
    sink, parsed = decrypt_to_sink(kms, out.getvalue(), encryption_context={"purpose": "test"})
    assert sink.data == plaintext
    assert parsed.encryption_context["purpose"] == "test"
    # One write per frame: every full frame is regular and the final frame holds the rest (maybe nothing).
    assert [len(w) for w in sink.writes] == [FRAME] * (size // FRAME) + [size % FRAME]


def test_frames_are_laid_out_as_the_specification_says(kms: FakeKms) -> None:
    message = encrypt_bytes(kms, [kms.arn("one")], b"a" * (FRAME + 5), frame_length=FRAME, signed=False)
    header, offset = Header.parse(message)
    body = message[offset + 16 :]
    assert body[:4] == b"\x00\x00\x00\x01" and body[4:16] == frame_iv(1)
    final = body[4 + 12 + FRAME + 16 :]
    assert final[:8] == b"\xff\xff\xff\xff\x00\x00\x00\x02" and final[8:20] == frame_iv(2)
    assert final[20:24] == struct.pack(">I", 5) and len(final) == 24 + 5 + 16


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_tamper_grid_every_byte(kms: FakeKms, signed: bool) -> None:
    message = encrypt_bytes(
        kms, [kms.arn("one")], plaintext_of(3 * FRAME + 10), {"a": "b"}, frame_length=FRAME, signed=signed
    )
    for position in range(len(message)):
        tampered = bytearray(message)
        tampered[position] ^= 0x01
        sink = RecordingSink()
        with pytest.raises(DecryptionError):
            decrypt_stream(kms, io.BytesIO(bytes(tampered)), sink)  # type: ignore[arg-type]
        if signed:  # nothing is released from a signed message that does not verify
            assert sink.writes == [], position


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_truncation_grid(kms: FakeKms, signed: bool) -> None:
    message = encrypt_bytes(
        kms, [kms.arn("one")], plaintext_of(2 * FRAME + 3), frame_length=FRAME, signed=signed
    )
    for cut in range(len(message)):
        sink = RecordingSink()
        with pytest.raises((MessageFormatError, AuthenticationError)):
            decrypt_stream(kms, io.BytesIO(message[:cut]), sink)  # type: ignore[arg-type]
        if signed:
            assert sink.writes == []
    with pytest.raises(MessageFormatError, match="trailing"):
        decrypt_bytes(kms, message + b"\x00")


def test_release_unverified_writes_frames_before_the_signature_check(kms: FakeKms) -> None:
    message = bytearray(encrypt_bytes(kms, [kms.arn("one")], plaintext_of(2 * FRAME), frame_length=FRAME))
    message[-1] ^= 0x01  # the signature's last byte
    sink = RecordingSink()
    options = DecryptOptions(release_unverified=True)
    with pytest.raises(AuthenticationError, match="signature"):
        decrypt_stream(kms, io.BytesIO(bytes(message)), sink, options)  # type: ignore[arg-type]
    assert sink.data == plaintext_of(2 * FRAME)  # the caller opted in, and must discard it
    sink = RecordingSink()
    with pytest.raises(AuthenticationError, match="signature"):
        decrypt_stream(kms, io.BytesIO(bytes(message)), sink)  # type: ignore[arg-type]
    assert sink.writes == []


def test_encryption_context_must_hold_the_expected_pairs(kms: FakeKms) -> None:
    message = encrypt_bytes(kms, [kms.arn("one")], b"x", {"tenant": "a", "app": "b"})
    assert decrypt_bytes(kms, message, encryption_context={"tenant": "a"})[0] == b"x"
    with pytest.raises(ContextMismatchError, match="'tenant' is different"):
        decrypt_bytes(kms, message, encryption_context={"tenant": "z"})
    with pytest.raises(ContextMismatchError, match="'region' is missing"):
        decrypt_bytes(kms, message, encryption_context={"region": "eu"})
    with pytest.raises(EncryptionError, match="reserved"):
        encrypt_bytes(kms, [kms.arn("one")], b"x", {"aws-crypto-public-key": "mine"})


def test_strict_mode_discovery_and_several_keys(kms: FakeKms) -> None:
    message = encrypt_bytes(kms, [kms.arn("one"), "alias/two"], b"secret")
    header, _ = Header.parse(message)
    assert [edk.provider_info for edk in header.encrypted_data_keys] == [kms.arn("one"), kms.arn("two")]
    assert decrypt_bytes(kms, message)[0] == b"secret"  # discovery
    kms.calls.clear()
    assert decrypt_bytes(kms, message, key_ids=[kms.arn("two")])[0] == b"secret"
    assert kms.calls == {"Decrypt": 1}  # only the trusted key's EDK was sent to KMS
    assert decrypt_bytes(kms, message, key_ids=["alias/two"])[0] == b"secret"  # resolved by DescribeKey
    with pytest.raises(DataKeyError, match="trusted"):
        decrypt_bytes(kms, message, key_ids=[kms.arn("three")])
    del kms.keys[kms.arn("one")], kms.keys[kms.arn("two")]  # KMS no longer knows either key
    with pytest.raises(DataKeyError, match="could be decrypted"):
        decrypt_bytes(kms, message)


def test_limits(kms: FakeKms) -> None:
    message = encrypt_bytes(kms, [kms.arn("one"), kms.arn("two"), kms.arn("three")], b"x", frame_length=FRAME)
    with pytest.raises(NotAllowedError, match="3 encrypted data keys"):
        decrypt_bytes(kms, message, max_encrypted_data_keys=2)
    big_frames = encrypt_bytes(kms, [kms.arn("one")], b"x", frame_length=1 << 20)
    with pytest.raises(NotAllowedError, match="frame length"):
        decrypt_to_sink(kms, big_frames, max_frame_length=1 << 16)
    with pytest.raises(EncryptionError, match="frame length"):
        encrypt_bytes(kms, [kms.arn("one")], b"x", frame_length=0)
    with pytest.raises(EncryptionError, match="At least one"):
        encrypt_bytes(kms, [], b"x")
    with pytest.raises(EncryptionError, match="GenerateDataKey"):
        encrypt_bytes(kms, ["alias/unknown"], b"x")


def test_not_a_message(kms: FakeKms) -> None:
    for data in (b"", b"hello world", b"\x03" + bytes(100), b"\x02\x12\x34" + bytes(100)):
        with pytest.raises(MessageFormatError):
            decrypt_bytes(kms, data)


def _version_1_message(kms: FakeKms, suite: Suite, plaintext: bytes, non_framed: bool = False) -> bytes:
    """A format version 1 message (unsigned suite), assembled from the layout helpers."""
    generated = kms.generate_data_key(
        KeyId=kms.arn("one"), NumberOfBytes=suite.data_key_length, EncryptionContext={}
    )
    message_id = os.urandom(16)
    content_type = ContentType.NON_FRAMED if non_framed else ContentType.FRAMED
    header = Header(
        suite,
        message_id,
        {},
        (EncryptedDataKey("aws-kms", generated["KeyId"], generated["CiphertextBlob"]),),
        0 if non_framed else FRAME,
        content_type=content_type,
    )
    aead = AESGCM(derive_content_key(suite, generated["Plaintext"], message_id))
    header_iv = os.urandom(12)
    out = [header.body_bytes(), header_iv, aead.encrypt(header_iv, b"", header.body_bytes())]
    if non_framed:
        iv = os.urandom(12)
        sealed = aead.encrypt(iv, plaintext, body_aad(message_id, content_type, 1, len(plaintext), False))
        out += [iv, struct.pack(">Q", len(plaintext)), sealed]
    else:
        iv = os.urandom(12)  # any unique IV is valid; readers must not insist on the sequence number
        sealed = aead.encrypt(iv, plaintext, body_aad(message_id, content_type, 1, len(plaintext), True))
        out += [struct.pack(">II", 0xFFFFFFFF, 1), iv, struct.pack(">I", len(plaintext)), sealed]
    return b"".join(out)


@pytest.mark.parametrize("suite", [Suite.AES_128_GCM_IV12_TAG16, Suite.AES_256_GCM_IV12_TAG16_HKDF_SHA256])
@pytest.mark.parametrize("non_framed", [False, True], ids=["framed", "non-framed"])
def test_version_1_needs_allow_non_committing(kms: FakeKms, suite: Suite, non_framed: bool) -> None:
    message = _version_1_message(kms, suite, b"legacy data", non_framed)
    with pytest.raises(NotAllowedError, match="non-committing"):
        decrypt_bytes(kms, message)
    assert decrypt_bytes(kms, message, allow_non_committing=True)[0] == b"legacy data"
    sink, _ = decrypt_to_sink(kms, message, allow_non_committing=True)  # streaming, verified first
    assert sink.data == b"legacy data"
    tampered = bytearray(message)
    tampered[-20] ^= 1
    sink = RecordingSink()
    with pytest.raises(AuthenticationError):
        decrypt_stream(kms, io.BytesIO(bytes(tampered)), sink, DecryptOptions(allow_non_committing=True))  # type: ignore[arg-type]
    if non_framed:  # a non-framed body has one tag: nothing is released before it verifies
        assert sink.writes == []


class DiscardingSink(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_memory_stays_bounded_for_large_streams(kms: FakeKms, signed: bool, tmp_path: Any) -> None:
    size = 48 * 1024 * 1024
    encrypted = tmp_path / "message"
    tracemalloc.start()
    try:
        with open(encrypted, "wb") as out:
            encrypt_stream(kms, [kms.arn("one")], io.BufferedReader(PatternSource(size)), out, signed=signed)
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = DiscardingSink()
        with open(encrypted, "rb") as message:
            decrypt_stream(kms, message, sink)  # type: ignore[arg-type]
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == size
    assert encrypt_peak < 4 * 1024 * 1024, encrypt_peak  # frames of 64 KiB, and 2 MiB queued to be hashed
    assert decrypt_peak < 12 * 1024 * 1024, decrypt_peak  # the spool keeps at most 4 MiB in memory


def test_unknown_length_streams_never_use_the_cache(kms: FakeKms) -> None:
    from strongroom.envelope import DataKeyCache

    cache = DataKeyCache(max_age=60)
    for _ in range(3):
        encrypt_stream(kms, [kms.arn("one")], io.BytesIO(b"x"), io.BytesIO(), cache=cache)
    assert kms.calls["GenerateDataKey"] == 3 and len(cache) == 0
    for _ in range(3):
        encrypt_stream(kms, [kms.arn("one")], io.BytesIO(b"x"), io.BytesIO(), cache=cache, plaintext_length=1)
    assert kms.calls["GenerateDataKey"] == 4 and len(cache) == 1


def test_the_library_imports_without_the_server_dependencies() -> None:
    import subprocess
    import sys

    script = (
        "import sys, strongroom.envelope; "
        "server = ('uvicorn', 'uvloop', 'orjson', 'click', 'botocore', 'boto3', 'rich', 'sqlite3'); "
        "print(sorted(m for m in server if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_fifo_gets_nothing_from_a_signed_message_that_fails(kms: FakeKms, tmp_path: Any) -> None:
    import threading
    from pathlib import Path

    from strongroom.envelope import decrypt_file

    message = bytearray(encrypt_bytes(kms, [kms.arn("one")], plaintext_of(5 * FRAME), frame_length=FRAME))
    message[-1] ^= 1
    (tmp_path / "message").write_bytes(bytes(message))
    fifo = Path(tmp_path / "fifo")
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with pytest.raises(AuthenticationError):
        decrypt_file(kms, tmp_path / "message", fifo)
    reader.join(timeout=30)
    assert received == [b""] and fifo.is_fifo()  # in place, and nothing released
