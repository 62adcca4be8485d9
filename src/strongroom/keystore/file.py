"""Root of trust held in a key file (the embedded default).

Root key file layout (36 bytes, created 0600 and refused if group- or world-accessible)::

    0   4   magic b"SRK" + version 0x01
    4   32  the AES-256 root key

Wrapped secret layout (version 1)::

    0   1   version = 0x01
    1   8   root key fingerprint: SHA-256(root key)[:8], to tell "wrong root key" from corruption
    9   12  AES-GCM nonce (random)
    21  n   AES-256-GCM ciphertext of the secret
    21+n 16 tag

The associated data is bytes 0..21 followed by the caller's context.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.keystore.base import WrappingError

__all__ = ["FileRootOfTrust", "RootKeyFileError"]

_MAGIC = b"SRK\x01"
_WRAP_VERSION = b"\x01"
_HEADER_LENGTH = 21


class RootKeyFileError(Exception):
    """The root key file is missing, malformed or too widely readable."""


class FileRootOfTrust:
    def __init__(self, root_key: bytes, path: Path | None = None) -> None:
        if len(root_key) != 32:
            raise ValueError("root key must be 32 bytes")
        self._aead = AESGCM(root_key)
        self._fingerprint = hashlib.sha256(root_key).digest()[:8]
        self._path = path

    @property
    def description(self) -> str:
        return f"root key file {self._path} (fingerprint {self._fingerprint.hex()})"

    @classmethod
    def create(cls, path: Path) -> FileRootOfTrust:
        """Write a fresh 256-bit root key to ``path`` (which must not exist), mode 0600."""
        root_key = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC + root_key)
            handle.flush()
            os.fsync(handle.fileno())
        return cls(root_key, path)

    @classmethod
    def load(cls, path: Path) -> FileRootOfTrust:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise RootKeyFileError(f"root key file {path} does not exist") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise RootKeyFileError(
                f"root key file {path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
                f"run: chmod 600 {path}"
            )
        data = path.read_bytes()
        if len(data) != 36 or not data.startswith(_MAGIC):
            raise RootKeyFileError(f"root key file {path} is not a Strongroom root key file")
        return cls(data[4:], path)

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        header = _WRAP_VERSION + self._fingerprint + os.urandom(12)
        return header + self._aead.encrypt(header[9:], secret, header + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) < _HEADER_LENGTH + 16 or wrapped[:1] != _WRAP_VERSION:
            raise WrappingError("unknown wrapped-secret format")
        header = wrapped[:_HEADER_LENGTH]
        if header[1:9] != self._fingerprint:
            raise WrappingError("secret was wrapped under a different root key")
        try:
            return self._aead.decrypt(header[9:], wrapped[_HEADER_LENGTH:], header + context)
        except InvalidTag:
            raise WrappingError("wrapped secret failed authentication") from None
