"""Encrypt and decrypt streams of any size in bounded memory: one frame at a time.

Encryption writes the header, then each frame as it is sealed, then the signature. Every full frame is a
regular frame, and the final frame holds what is left: 0 to frame length - 1 bytes (the specification
also allows a full final frame, but the AWS Encryption SDK for Python before 4.0 refuses one). Memory is
about two frames, whatever the input size.

Decryption checks, in order: the header's format and limits (version, suite, encrypted data key count,
frame length), the expected encryption context pairs, the data key (KMS, strict or discovery), the key
commitment, the header tag, every frame's tag and order, the signature, and that nothing trails the message.

A frame is written out as soon as its tag verifies, unless the message is signed (or non-framed): then
nothing is released before the signature (or the single tag) verifies. To keep that promise in bounded
memory the body is first verified while its ciphertext is spooled to a private temporary file (in memory
up to a few MiB), and decrypted from the spool in a second pass. ``release_unverified=True`` skips the
spool: frames are written as they verify and the signature is checked at the end, so on failure the
caller must discard what was written (the CLI writes to a temporary file it deletes).
"""

from __future__ import annotations

import base64
import os
import struct
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, BinaryIO, Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.envelope.cache import DataKeyCache
from strongroom.envelope.errors import (
    AuthenticationError,
    ContextMismatchError,
    EncryptionError,
    MessageFormatError,
    NotAllowedError,
)
from strongroom.envelope.materials import (
    PUBLIC_KEY_CONTEXT,
    decrypt_data_key,
    encryption_materials,
    resolve_key_arns,
)
from strongroom.envelope.message import (
    FINAL_FRAME_MARKER,
    IV_LENGTH,
    MAX_NON_FRAMED_LENGTH,
    MESSAGE_ID_LENGTH,
    TAG_LENGTH,
    ContentType,
    Header,
    Reader,
    body_aad,
    commitment_key,
    derive_content_key,
    frame_iv,
)
from strongroom.envelope.signature_hash import SignatureHash
from strongroom.envelope.suites import Suite

__all__ = [
    "DEFAULT_FRAME_LENGTH",
    "DEFAULT_MAX_ENCRYPTED_DATA_KEYS",
    "DEFAULT_MAX_FRAME_LENGTH",
    "DecryptOptions",
    "decrypt_stream",
    "encrypt_stream",
]

DEFAULT_FRAME_LENGTH: Final = 64 * 1024
DEFAULT_MAX_FRAME_LENGTH: Final = 16 * 1024 * 1024  # decryption buffers one frame; refuse larger ones
DEFAULT_MAX_ENCRYPTED_DATA_KEYS: Final = 10
MAX_FRAMES: Final = 0xFFFFFFFE  # sequence numbers are u32, and 0xFFFFFFFF marks the final frame
_SPOOL_IN_MEMORY: Final = 4 * 1024 * 1024
_NON_FRAMED_CHUNK: Final = 1024 * 1024

Progress = Callable[[int], object]


def _read_up_to(source: BinaryIO, count: int) -> bytes:
    """Up to ``count`` bytes; fewer only at the end of the stream."""
    chunk = source.read(count) or b""
    while len(chunk) < count:
        more = source.read(count - len(chunk))
        if not more:
            break
        chunk += more
    return chunk


def encrypt_stream(
    kms: Any,
    key_ids: Sequence[str],
    source: BinaryIO,
    sink: BinaryIO,
    encryption_context: Mapping[str, str] | None = None,
    *,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    signed: bool = True,
    cache: DataKeyCache | None = None,
    plaintext_length: int | None = None,
    progress: Progress | None = None,
) -> Header:
    """Encrypt everything ``source`` holds into one message written to ``sink``; any of ``key_ids``
    decrypts it. ``plaintext_length``, when known, lets ``cache`` be used (see :class:`DataKeyCache`)."""
    if not 1 <= frame_length <= DEFAULT_MAX_FRAME_LENGTH:
        raise EncryptionError(f"The frame length must be between 1 and {DEFAULT_MAX_FRAME_LENGTH}.")
    suite = (
        Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
        if signed
        else Suite.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
    )
    materials = encryption_materials(
        kms, key_ids, dict(encryption_context or {}), suite, cache=cache, plaintext_length=plaintext_length
    )
    message_id = os.urandom(MESSAGE_ID_LENGTH)
    header = Header(
        suite,
        message_id,
        materials.encryption_context,
        materials.encrypted_data_keys,
        frame_length,
        commitment_key(materials.data_key, message_id),
    )
    try:
        header_bytes = header.body_bytes()
    except ValueError as error:  # an encryption context or EDK too large for the format
        raise EncryptionError(str(error)) from None
    aead = AESGCM(derive_content_key(suite, materials.data_key, message_id))
    with _signature_hash(suite) as digest:

        def emit(data: bytes) -> None:
            sink.write(data)
            if digest is not None:
                digest.update(data)

        emit(header_bytes + aead.encrypt(bytes(IV_LENGTH), b"", header_bytes))
        _write_frames(aead, message_id, frame_length, source, emit, progress)
        if digest is not None and materials.signing_key is not None:
            signature = materials.signing_key.sign(digest.digest(), ec.ECDSA(Prehashed(suite.signature_hash)))
            sink.write(struct.pack(">H", len(signature)) + signature)
    return header


def _signature_hash(suite: Suite) -> AbstractContextManager[SignatureHash | None]:
    return SignatureHash(suite.new_signature_hash()) if suite.signed else nullcontext(None)


def _write_frames(
    aead: AESGCM,
    message_id: bytes,
    frame_length: int,
    source: BinaryIO,
    emit: Callable[[bytes], None],
    progress: Progress | None,
) -> None:
    sequence = 1
    while True:
        chunk = _read_up_to(source, frame_length)
        final = len(chunk) < frame_length  # a full frame is never final: older ESDKs refuse that
        iv = frame_iv(sequence)
        aad = body_aad(message_id, ContentType.FRAMED, sequence, len(chunk), final)
        if final:
            emit(struct.pack(">II", FINAL_FRAME_MARKER, sequence) + iv + struct.pack(">I", len(chunk)))
        else:
            emit(struct.pack(">I", sequence) + iv)
        emit(aead.encrypt(iv, chunk, aad))
        if progress is not None:
            progress(len(chunk))
        if final:
            return
        sequence += 1
        if sequence > MAX_FRAMES:
            raise EncryptionError("The input needs more than 2^32 - 2 frames: use a larger frame length.")


@dataclass(frozen=True, slots=True)
class DecryptOptions:
    """What a decryption accepts.

    ``key_ids``: strict mode, only encrypted data keys under these KMS keys are tried (key ids, ARNs or
    aliases; all but ARNs are resolved with DescribeKey); None is discovery mode, every ``aws-kms`` one.
    ``encryption_context``: pairs the message's context must hold. ``allow_non_committing``: also read
    format version 1 messages (non-committing suites). ``release_unverified``: see the module docstring.
    """

    key_ids: Sequence[str] | None = None
    encryption_context: Mapping[str, str] | None = None
    allow_non_committing: bool = False
    release_unverified: bool = False
    max_encrypted_data_keys: int = DEFAULT_MAX_ENCRYPTED_DATA_KEYS
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH
    cache: DataKeyCache | None = None


def decrypt_stream(
    kms: Any,
    source: BinaryIO,
    sink: BinaryIO,
    options: DecryptOptions | None = None,
    *,
    progress: Progress | None = None,
) -> Header:
    """Decrypt the one message ``source`` holds into ``sink``; returns its header (and so its context)."""
    options = options or DecryptOptions()
    reader = Reader(source)
    header, content_key, authenticated = _read_header(kms, reader, options)
    two_pass = (header.suite.signed or header.content_type is ContentType.NON_FRAMED) and not (
        options.release_unverified
    )
    with _signature_hash(header.suite) as digest:
        if digest is not None:
            digest.update(authenticated)
            reader.taps.append(digest.update)
        if not two_pass:
            _decrypt_body(reader, header, content_key, sink, progress)
            _finish(reader, header, digest)
            return header
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            reader.taps.append(spool.write)
            _decrypt_body(reader, header, content_key, None, progress)
            reader.taps.remove(spool.write)
            _finish(reader, header, digest)
            spool.seek(0)
            _decrypt_body(Reader(spool), header, content_key, sink, None)  # type: ignore[arg-type]
    return header


def _read_header(kms: Any, reader: Reader, options: DecryptOptions) -> tuple[Header, bytes, bytes]:
    """Read and check the header, get the data key from KMS and verify the header's authentication.

    Returns the header, the content key and the header's bytes (with its authentication)."""
    with reader.recording() as recorded:
        header = Header.read(reader, options.max_encrypted_data_keys)
    header_body = b"".join(recorded)
    _check_acceptable(header, options)
    trusted = resolve_key_arns(kms, options.key_ids) if options.key_ids is not None else None
    data_key = decrypt_data_key(kms, header, trusted, cache=options.cache)
    if header.suite.committing and commitment_key(data_key, header.message_id) != header.commitment:
        raise AuthenticationError("Key commitment does not match: wrong data key or a tampered message.")
    content_key = derive_content_key(header.suite, data_key, header.message_id)
    with reader.recording() as auth:
        iv = reader.take(IV_LENGTH) if header.version == 1 else bytes(IV_LENGTH)
        tag = reader.take(TAG_LENGTH)
    try:
        AESGCM(content_key).decrypt(iv, tag, header_body)
    except InvalidTag:
        raise AuthenticationError("The message header was tampered with (its tag does not verify).") from None
    return header, content_key, header_body + b"".join(auth)


def _check_acceptable(header: Header, options: DecryptOptions) -> None:
    if not header.suite.committing and not options.allow_non_committing:
        raise NotAllowedError(
            f"The message uses the non-committing algorithm suite 0x{header.suite:04x} (message format 1); "
            "it is refused unless non-committing suites are allowed."
        )
    if header.frame_length > options.max_frame_length:
        raise NotAllowedError(
            f"The message's frame length {header.frame_length} is over the maximum of "
            f"{options.max_frame_length}."
        )
    for name, value in (options.encryption_context or {}).items():
        if header.encryption_context.get(name) != value:
            raise ContextMismatchError(
                f"The message's encryption context does not match: {name!r} is "
                + ("missing." if name not in header.encryption_context else "different.")
            )


def _decrypt_body(
    reader: Reader, header: Header, content_key: bytes, sink: BinaryIO | None, progress: Progress | None
) -> None:
    """Verify (and, with a sink, write out) the body; a sink of None only verifies."""
    if header.content_type is ContentType.NON_FRAMED:
        _decrypt_non_framed(reader, header, content_key, sink, progress)
        return
    aead = AESGCM(content_key)
    expected = 1
    while True:
        start = reader.consumed
        sequence = reader.u32()
        final = sequence == FINAL_FRAME_MARKER
        if final:
            sequence = reader.u32()
        if sequence != expected:
            raise MessageFormatError("The message's frames are out of order.")
        iv = reader.take(IV_LENGTH)
        length = reader.u32() if final else header.frame_length
        if length > header.frame_length:
            raise MessageFormatError("The final frame is longer than the frame length.")
        sealed = reader.take(length + TAG_LENGTH)
        aad = body_aad(header.message_id, ContentType.FRAMED, sequence, length, final)
        try:
            plaintext = aead.decrypt(iv, sealed, aad)
        except InvalidTag:
            raise AuthenticationError(
                f"Frame {sequence} was tampered with (its tag does not verify)."
            ) from None
        if sink is not None:
            sink.write(plaintext)
        if progress is not None:
            progress(reader.consumed - start)
        if final:
            return
        expected += 1
        if expected > MAX_FRAMES:
            raise MessageFormatError("The message has more frames than the format allows.")


def _decrypt_non_framed(
    reader: Reader, header: Header, content_key: bytes, sink: BinaryIO | None, progress: Progress | None
) -> None:
    iv = reader.take(IV_LENGTH)
    length = reader.u64()
    if length > MAX_NON_FRAMED_LENGTH:
        raise MessageFormatError("The non-framed body is longer than the format allows.")
    decryptor = Cipher(algorithms.AES(content_key), modes.GCM(iv)).decryptor()
    decryptor.authenticate_additional_data(
        body_aad(header.message_id, ContentType.NON_FRAMED, 1, length, False)
    )
    remaining = length
    while remaining:
        chunk = reader.take(min(remaining, _NON_FRAMED_CHUNK))
        remaining -= len(chunk)
        plaintext = decryptor.update(chunk)
        if sink is not None:
            sink.write(plaintext)
        if progress is not None:
            progress(len(chunk))
    try:
        decryptor.finalize_with_tag(reader.take(TAG_LENGTH))
    except InvalidTag:
        raise AuthenticationError("The message body was tampered with (its tag does not verify).") from None


def _finish(reader: Reader, header: Header, digest: SignatureHash | None) -> None:
    """Verify the footer's signature (signed suites) and that nothing follows the message."""
    if digest is not None:
        reader.taps.remove(digest.update)
        signature = reader.take(reader.u16())
        encoded = header.encryption_context.get(PUBLIC_KEY_CONTEXT)
        if encoded is None:
            raise MessageFormatError("A signed message has no public key in its encryption context.")
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                header.suite.curve, base64.b64decode(encoded)
            )
            public.verify(signature, digest.digest(), ec.ECDSA(Prehashed(header.suite.signature_hash)))
        except (InvalidSignature, ValueError):
            raise AuthenticationError("The message signature does not verify.") from None
    if not reader.at_end():
        raise MessageFormatError("The message has trailing bytes.")
