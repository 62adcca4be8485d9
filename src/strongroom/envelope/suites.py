"""The AWS Encryption SDK algorithm suites, as data: each enum member carries its parameters.

From the public specification (``framework/algorithm-suites.md``). Every suite uses AES-GCM with a 12-byte
IV and a 16-byte tag. Format version 1 suites are not key-committing: Strongroom reads them only when the
caller asks for it, and never writes them.

| id     | format | data key | content key                                           | signature          |
|--------|--------|----------|-------------------------------------------------------|--------------------|
| 0x0014 | 1      | 16       | the data key itself                                   | none               |
| 0x0046 | 1      | 24       | the data key itself                                   | none               |
| 0x0078 | 1      | 32       | the data key itself                                   | none               |
| 0x0114 | 1      | 16       | HKDF-SHA256, no salt, info = id ‖ message id          | none               |
| 0x0146 | 1      | 24       | HKDF-SHA256, as above                                 | none               |
| 0x0178 | 1      | 32       | HKDF-SHA256, as above                                 | none               |
| 0x0214 | 1      | 16       | HKDF-SHA256, as above                                 | ECDSA P-256 SHA256 |
| 0x0346 | 1      | 24       | HKDF-SHA384, as above                                 | ECDSA P-384 SHA384 |
| 0x0378 | 1      | 32       | HKDF-SHA384, as above                                 | ECDSA P-384 SHA384 |
| 0x0478 | 2      | 32       | HKDF-SHA512, salt = message id, info = id ‖ DERIVEKEY | none               |
| 0x0578 | 2      | 32       | as 0x0478                                             | ECDSA P-384 SHA384 |

Format 2 suites also commit to the data key: HKDF-SHA512(salt = message id, info = "COMMITKEY").
"""

from __future__ import annotations

import hashlib
from enum import IntEnum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["Suite"]

_DATA_KEY_LENGTH: Final = {0x14: 16, 0x46: 24, 0x78: 32}


class Suite(IntEnum):
    """An algorithm suite, by its two-byte id."""

    AES_128_GCM_IV12_TAG16 = 0x0014
    AES_192_GCM_IV12_TAG16 = 0x0046
    AES_256_GCM_IV12_TAG16 = 0x0078
    AES_128_GCM_IV12_TAG16_HKDF_SHA256 = 0x0114
    AES_192_GCM_IV12_TAG16_HKDF_SHA256 = 0x0146
    AES_256_GCM_IV12_TAG16_HKDF_SHA256 = 0x0178
    AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 = 0x0214
    AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0346
    AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0378
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578

    @property
    def committing(self) -> bool:
        return self >= 0x0400

    @property
    def message_format(self) -> int:
        return 2 if self.committing else 1

    @property
    def data_key_length(self) -> int:
        return _DATA_KEY_LENGTH[self & 0xFF]

    @property
    def kdf_hash(self) -> hashes.HashAlgorithm | None:
        """The HKDF hash, or None for the suites that use the data key as is."""
        family = self >> 8
        if family == 0:
            return None
        if family in (1, 2):
            return hashes.SHA256()
        if family == 3:
            return hashes.SHA384()
        return hashes.SHA512()

    @property
    def signed(self) -> bool:
        return self >> 8 in (2, 3, 5)

    @property
    def curve(self) -> ec.EllipticCurve:
        """The ECDSA curve of a signed suite."""
        if not self.signed:
            raise ValueError(f"suite 0x{self:04x} is not signed")
        return ec.SECP256R1() if self >> 8 == 2 else ec.SECP384R1()

    def new_signature_hash(self) -> hashlib._Hash:
        """A fresh hashlib object for the message signature (hashlib frees the GIL on large updates)."""
        return hashlib.sha256() if self >> 8 == 2 else hashlib.sha384()

    @property
    def signature_hash(self) -> hashes.HashAlgorithm:
        return hashes.SHA256() if self >> 8 == 2 else hashes.SHA384()
