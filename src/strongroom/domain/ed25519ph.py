"""Ed25519ph (RFC 8032 section 5.1: phflag 1, empty context) over a given SHA-512 digest, which is what
``ED25519_PH_SHA_512`` with ``MessageType=DIGEST`` signs.

pyca/cryptography offers only pure Ed25519, and PyNaCl's Ed25519ph hashes the message itself, so neither
can sign a digest it is given. The scheme is built here from libsodium's group and scalar operations
(through PyNaCl), which are constant-time; no secret goes through Python integer arithmetic. Following the
RFC, with ``dom2 = "SigEd25519 no Ed25519 collisions" || 0x01 || 0x00`` and ``PH(M)`` the given digest:

- ``h = SHA-512(seed)``, ``a`` = the clamped first half of ``h``, ``A = [a]B``;
- ``r = SHA-512(dom2 || h[32:] || PH(M)) mod L``, ``R = [r]B``;
- ``k = SHA-512(dom2 || R || A || PH(M)) mod L``, ``S = (r + k * a) mod L``; the signature is ``R || S``.

Verification checks ``S < L``, that ``R`` and ``A`` are valid points, and ``[S]B = R + [k]A``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from nacl import bindings
from nacl.exceptions import RuntimeError as NaclRuntimeError

__all__ = ["sign", "verify"]

_DOM2: Final = b"SigEd25519 no Ed25519 collisions" + bytes([1, 0])
_L: Final = 2**252 + 27742317777372353535851937790883648493


def _reduce(data: bytes) -> bytes:
    return bytes(bindings.crypto_core_ed25519_scalar_reduce(data.ljust(64, b"\x00")))


def sign(seed: bytes, digest: bytes) -> bytes:
    """The Ed25519ph signature of ``digest`` (64 bytes) under the private key ``seed`` (32 bytes)."""
    expanded = hashlib.sha512(seed).digest()
    clamped = bytearray(expanded[:32])
    clamped[0] &= 248
    clamped[31] &= 127
    clamped[31] |= 64
    scalar = _reduce(bytes(clamped))
    public = bindings.crypto_scalarmult_ed25519_base_noclamp(scalar)
    nonce = _reduce(hashlib.sha512(_DOM2 + expanded[32:] + digest).digest())
    commitment = bindings.crypto_scalarmult_ed25519_base_noclamp(nonce)
    challenge = _reduce(hashlib.sha512(_DOM2 + commitment + public + digest).digest())
    response = bindings.crypto_core_ed25519_scalar_add(
        nonce, bindings.crypto_core_ed25519_scalar_mul(challenge, scalar)
    )
    return bytes(commitment) + bytes(response)


def verify(public: bytes, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the Ed25519ph signature of ``digest`` under ``public`` (32 bytes)."""
    if len(signature) != 64 or len(public) != 32:
        return False
    commitment, response = signature[:32], signature[32:]
    if int.from_bytes(response, "little") >= _L:
        return False
    if not (
        bindings.crypto_core_ed25519_is_valid_point(public)
        and bindings.crypto_core_ed25519_is_valid_point(commitment)
    ):
        return False
    challenge = _reduce(hashlib.sha512(_DOM2 + commitment + public + digest).digest())
    try:
        left = bindings.crypto_scalarmult_ed25519_base_noclamp(response)
        right = bindings.crypto_core_ed25519_add(
            commitment, bindings.crypto_scalarmult_ed25519_noclamp(challenge, public)
        )
    except NaclRuntimeError:  # a product that is the identity point: not a valid signature
        return False
    return hmac.compare_digest(left, right)
