"""The envelope library's exceptions, in one tree::

    EnvelopeError
     ├── EncryptionError          KMS refused or failed to give a data key; bad encryption arguments
     └── DecryptionError          the message cannot be decrypted
          ├── MessageFormatError      not a message, truncated, malformed, unsupported suite or format
          ├── NotAllowedError         refused by policy: non-committing suite, too many encrypted data keys
          ├── DataKeyError            no encrypted data key is under a trusted KMS key, or KMS refused all
          ├── ContextMismatchError    the message's encryption context lacks an expected pair
          └── AuthenticationError     a tag, the key commitment or the signature does not verify

Authentication failures say which check failed but never anything about the plaintext or keys.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ContextMismatchError",
    "DataKeyError",
    "DecryptionError",
    "EncryptionError",
    "EnvelopeError",
    "MessageFormatError",
    "NotAllowedError",
]


class EnvelopeError(Exception):
    """Root of the envelope library's errors."""


class EncryptionError(EnvelopeError):
    """The message could not be encrypted."""


class DecryptionError(EnvelopeError, ValueError):
    """The message could not be decrypted."""


class MessageFormatError(DecryptionError):
    """The bytes are not a message we can read (unknown version or suite, truncated, malformed)."""


class NotAllowedError(DecryptionError):
    """The message is well formed but the caller's settings refuse it."""


class DataKeyError(DecryptionError):
    """No encrypted data key of the message could be decrypted with a trusted KMS key."""


class ContextMismatchError(DecryptionError):
    """The message's encryption context does not hold the pairs the caller expects."""


class AuthenticationError(DecryptionError):
    """The message was tampered with: a tag, the key commitment or the signature does not verify."""
