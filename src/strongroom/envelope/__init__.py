"""Envelope encryption in the AWS Encryption SDK message format (version 2, committing suites).

Importable without the server's dependencies: it needs only ``cryptography`` and a boto3 KMS client
(pointed at Strongroom or at AWS KMS).
"""

from strongroom.envelope.codec import DecryptionError, decrypt_bytes, encrypt_bytes
from strongroom.envelope.message import MessageFormatError, Suite

__all__ = ["DecryptionError", "MessageFormatError", "Suite", "decrypt_bytes", "encrypt_bytes"]
