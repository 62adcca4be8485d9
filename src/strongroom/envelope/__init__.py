"""Envelope encryption in the AWS Encryption SDK message format.

Writes message format version 2 with the committing suites (AES-256-GCM, HKDF-SHA512, key commitment, with
or without an ECDSA P-384 signature), framed; reads versions 1 and 2. Importable without the server's
dependencies: it needs only ``cryptography`` and a boto3 KMS client (pointed at Strongroom or at AWS KMS).

- :func:`encrypt_bytes` / :func:`decrypt_bytes`: whole messages in memory.
- :func:`encrypt_stream` / :func:`decrypt_stream`: binary streams of any size, in bounded memory.
- :func:`encrypt_file` / :func:`decrypt_file`: files, written atomically (nothing is left on failure).
- :class:`DataKeyCache`: reuse data keys across many small messages, within limits.
"""

from strongroom.envelope.cache import DataKeyCache
from strongroom.envelope.codec import decrypt_bytes, encrypt_bytes
from strongroom.envelope.errors import (
    AuthenticationError,
    ContextMismatchError,
    DataKeyError,
    DecryptionError,
    EncryptionError,
    EnvelopeError,
    MessageFormatError,
    NotAllowedError,
)
from strongroom.envelope.files import decrypt_file, encrypt_file
from strongroom.envelope.stream import DecryptOptions, decrypt_stream, encrypt_stream
from strongroom.envelope.suites import Suite

__all__ = [
    "AuthenticationError",
    "ContextMismatchError",
    "DataKeyCache",
    "DataKeyError",
    "DecryptOptions",
    "DecryptionError",
    "EncryptionError",
    "EnvelopeError",
    "MessageFormatError",
    "NotAllowedError",
    "Suite",
    "decrypt_bytes",
    "decrypt_file",
    "decrypt_stream",
    "encrypt_bytes",
    "encrypt_file",
    "encrypt_stream",
]
