"""The versioned ciphertext blob of symmetric KMS keys: its byte layout, header parsing, and AES-GCM.

Why a self-describing blob
--------------------------
KMS Decrypt of a symmetric ciphertext does not require a key id: the blob itself must say which key
and which version of its (rotated) key material sealed it. So the header carries both, in a fixed
binary layout that :func:`parse_header` reads without any key material, to route the request. All of
the format lives in this one module so that a change to it is a change to one file and one
``format version`` byte.

Layout (version 1)::

    offset  size  field
    0       1     format version = 0x01
    1       1     key id kind: 0x01 = UUID key id ("1234abcd-12ab-34cd-56ef-1234567890ab"),
                  0x02 = multi-Region key id ("mrk-" + 32 lower-case hex)
    2       16    key id: the 16 bytes of the UUID, or of the 32 hex digits after "mrk-"
    18      4     key material version, unsigned big-endian, >= 1
    22      16    key-derivation salt (random per message)
    38      12    AES-GCM nonce (random per message)
    50      n     AES-256-GCM ciphertext of the plaintext (n = plaintext length)
    50+n    16    AES-GCM tag

Associated data is ``blob[0:50]`` (the whole header, salt and nonce included) followed by
``canonical_encryption_context(context)``. Changing any header byte, any ciphertext byte, or any
key or value of the encryption context therefore fails authentication.

Why a per-message data key
--------------------------
With 96-bit random nonces, one AES-GCM key must not seal more than about 2^32 messages (the nonce
collision bound). A popular KMS key version can exceed that. So each message gets its own key,
derived from the material secret and a fresh 128-bit salt with the NIST SP 800-108 KDF in counter
mode (one 256-bit block, HMAC-SHA256 as the PRF)::

    dk = HMAC-SHA256(secret, [i]=0x00000001 || Label="strongroom ciphertext v1" || 0x00
                             || Context=salt || [L]=0x00000100)

and the nonce only has to be unique per derived key, which it trivially is.

Errors are deliberately opaque: every failure to parse or authenticate a blob is an
``InvalidCiphertextException`` without a message, so a caller learns nothing about *why*.

Encrypt and decrypt run on every GenerateDataKey, Encrypt and Decrypt request, so
:class:`MaterialCipher` precomputes the constant 22-byte header prefix and does the minimum per call:
one random read, one one-shot ``hmac.digest`` (OpenSSL's C path) and one AES-GCM operation.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.clock import Random
from strongroom.errors import InvalidCiphertextException

__all__ = [
    "FORMAT_VERSION",
    "HEADER_LENGTH",
    "KEY_ID_KIND_MRK",
    "KEY_ID_KIND_UUID",
    "MAX_BLOB_LENGTH",
    "MAX_PLAINTEXT_LENGTH",
    "MIN_BLOB_LENGTH",
    "TAG_LENGTH",
    "CiphertextHeader",
    "MaterialCipher",
    "encode_key_id",
    "parse_header",
]

FORMAT_VERSION: Final = 0x01
KEY_ID_KIND_UUID: Final = 0x01
KEY_ID_KIND_MRK: Final = 0x02

HEADER_LENGTH: Final = 50
TAG_LENGTH: Final = 16
MIN_BLOB_LENGTH: Final = 66  # header + tag, i.e. an empty plaintext: the fixed parts set the bound
MAX_BLOB_LENGTH: Final = 6144
MAX_PLAINTEXT_LENGTH: Final = MAX_BLOB_LENGTH - HEADER_LENGTH - TAG_LENGTH

_PREFIX_LENGTH: Final = 22  # version + kind + key id + material version: constant per MaterialCipher
_SALT_END: Final = 38
_RANDOM_LENGTH: Final = 28  # salt (16) + nonce (12), read in one call
_SECRET_LENGTH: Final = 32
_MAX_MATERIAL_VERSION: Final = 0xFFFFFFFF

_KDF_PREFIX: Final = b"\x00\x00\x00\x01" + b"strongroom ciphertext v1" + b"\x00"
_KDF_SUFFIX: Final = b"\x00\x00\x01\x00"

_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MRK_RE: Final = re.compile(r"mrk-[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class CiphertextHeader:
    """What a blob says about the key that sealed it; enough to route Decrypt."""

    key_id: str  # "uuid" form or "mrk-<32hex>", lower case
    material_version: int


def encode_key_id(key_id: str) -> bytes:
    """The 17 header bytes (kind + 16) of a canonical lower-case key id; ValueError otherwise.

    Only the canonical lower-case spellings are accepted, so that :func:`parse_header` gives back
    exactly the string that was encoded.
    """
    if _UUID_RE.fullmatch(key_id):
        return bytes((KEY_ID_KIND_UUID,)) + bytes.fromhex(key_id.replace("-", ""))
    if _MRK_RE.fullmatch(key_id):
        return bytes((KEY_ID_KIND_MRK,)) + bytes.fromhex(key_id[4:])
    raise ValueError(f"not a KMS key id: {key_id!r}")


def _decode_key_id(kind: int, raw: bytes) -> str:
    h = raw.hex()
    if kind == KEY_ID_KIND_UUID:
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if kind == KEY_ID_KIND_MRK:
        return "mrk-" + h
    raise InvalidCiphertextException()


def parse_header(blob: bytes) -> CiphertextHeader:
    """Read the key id and material version from a blob, without authenticating anything.

    Raises InvalidCiphertextException for a blob that is too short or too long, or has an unknown
    format version, an unknown key id kind or material version 0.
    """
    if not MIN_BLOB_LENGTH <= len(blob) <= MAX_BLOB_LENGTH or blob[0] != FORMAT_VERSION:
        raise InvalidCiphertextException()
    key_id = _decode_key_id(blob[1], blob[2:18])
    material_version = int.from_bytes(blob[18:_PREFIX_LENGTH], "big")
    if material_version == 0:
        raise InvalidCiphertextException()
    return CiphertextHeader(key_id, material_version)


class MaterialCipher:
    """AES-256-GCM under one version of one KMS key's material. Built once per material version and
    cached by the caller."""

    __slots__ = ("_kdf", "_prefix", "key_id", "material_version")

    def __init__(self, key_id: str, material_version: int, secret: bytes) -> None:
        if len(secret) != _SECRET_LENGTH:
            raise ValueError("key material secret must be 32 bytes")
        if not 1 <= material_version <= _MAX_MATERIAL_VERSION:
            raise ValueError(f"material version out of range: {material_version}")
        self.key_id: Final = key_id
        self.material_version: Final = material_version
        # HMAC keyed once; each message copies the keyed state (cheaper than re-keying per call).
        self._kdf: Final = hmac.new(bytes(secret), digestmod="sha256")
        self._prefix: Final = (
            bytes((FORMAT_VERSION,)) + encode_key_id(key_id) + material_version.to_bytes(4, "big")
        )

    def __repr__(self) -> str:  # never show the secret
        return f"MaterialCipher({self.key_id!r}, {self.material_version})"

    def encrypt(self, plaintext: bytes, context_aad: bytes, rng: Random) -> bytes:
        """Seal ``plaintext``; ``context_aad`` is ``canonical_encryption_context(...)``."""
        if len(plaintext) > MAX_PLAINTEXT_LENGTH:
            raise ValueError("plaintext too long for a ciphertext blob")
        salt_nonce = rng.bytes(_RANDOM_LENGTH)
        if len(salt_nonce) != _RANDOM_LENGTH:
            raise ValueError("random source returned the wrong number of bytes")
        header = self._prefix + salt_nonce
        return header + AESGCM(self._derive(salt_nonce[:16])).encrypt(
            salt_nonce[16:], plaintext, header + context_aad
        )

    def _derive(self, salt: bytes) -> bytes:
        """The per-message key: SP 800-108 counter-mode HMAC-SHA256, one block."""
        mac = self._kdf.copy()
        mac.update(_KDF_PREFIX + salt + _KDF_SUFFIX)
        return mac.digest()

    def decrypt(self, blob: bytes, context_aad: bytes) -> bytes:
        """Open a blob sealed by this key material version; InvalidCiphertextException otherwise."""
        if not MIN_BLOB_LENGTH <= len(blob) <= MAX_BLOB_LENGTH or not blob.startswith(self._prefix):
            raise InvalidCiphertextException()
        dk = self._derive(blob[_PREFIX_LENGTH:_SALT_END])
        try:
            return AESGCM(dk).decrypt(
                blob[_SALT_END:HEADER_LENGTH], blob[HEADER_LENGTH:], blob[:HEADER_LENGTH] + context_aad
            )
        except InvalidTag:
            raise InvalidCiphertextException() from None
