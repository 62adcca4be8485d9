"""ML-KEM (FIPS 203) through pyca/cryptography, where the installed version has it.

Recent pyca/cryptography (48 and 50 have it; 42, the oldest the project admits, does not) offers
ML-KEM-768 and ML-KEM-1024, OpenSSL's constant-time implementation, and no ML-KEM-512. Strongroom uses
no other implementation: the ML-KEM-512 packages on PyPI are pure Python (not constant-time),
single-author bindings of unaudited code, or (liboqs-python) a binding that needs the liboqs C library
installed separately and otherwise fetches and builds it from source at import time. So:

- ``ML_KEM_512`` always answers UnsupportedOperationException naming the spec;
- ``ML_KEM_768`` and ``ML_KEM_1024`` answer it too where the installed cryptography lacks ML-KEM, and the
  server still starts and serves everything else.

Key material is pyca's DER PKCS#8 ``PrivateKeyInfo`` in *seed* form (the 64-byte ``d || z`` seed of FIPS
203's ``ML-KEM.KeyGen_internal``, as ``[0] IMPLICIT OCTET STRING``): 86 bytes for every parameter set,
which is also what AWS returns for ML-KEM data key pairs ("the DER-encoded PKCS8 PrivateKeyInfo contains
the private key in seed format. As a result, the length of the private key is the same for all ML-KEM
key pair specs"). Public keys are DER SubjectPublicKeyInfo with the NIST OIDs (2.16.840.1.101.3.4.4.x).
"""

from __future__ import annotations

from typing import Any, Final

from strongroom.domain.keys import KeySpec
from strongroom.errors import UnsupportedOperationException

__all__ = [
    "CIPHERTEXT_LENGTHS",
    "ML_KEM_SPECS",
    "available",
    "generate",
    "is_ml_kem_key",
    "require",
]

ML_KEM_SPECS: Final = frozenset({KeySpec.ML_KEM_512, KeySpec.ML_KEM_768, KeySpec.ML_KEM_1024})

#: The encapsulated shared secret's length per spec (FIPS 203 table 3; the Encapsulate documentation).
CIPHERTEXT_LENGTHS: Final = {KeySpec.ML_KEM_512: 768, KeySpec.ML_KEM_768: 1088, KeySpec.ML_KEM_1024: 1568}

try:
    from cryptography.hazmat.primitives.asymmetric import mlkem
except ImportError:  # an older cryptography
    _CLASSES: dict[KeySpec, Any] = {}
    _KEY_TYPES: tuple[type, ...] = ()
else:
    _CLASSES = {
        KeySpec.ML_KEM_768: mlkem.MLKEM768PrivateKey,
        KeySpec.ML_KEM_1024: mlkem.MLKEM1024PrivateKey,
    }
    _KEY_TYPES = (
        mlkem.MLKEM768PrivateKey,
        mlkem.MLKEM1024PrivateKey,
        mlkem.MLKEM768PublicKey,
        mlkem.MLKEM1024PublicKey,
    )


def _unsupported(member: str, spec: KeySpec) -> UnsupportedOperationException:
    if spec is KeySpec.ML_KEM_512:
        return UnsupportedOperationException(
            f"{member} ML_KEM_512 is not supported by Strongroom: no maintained, constant-time ML-KEM-512 "
            "implementation is available to it. Use ML_KEM_768 or ML_KEM_1024."
        )
    return UnsupportedOperationException(
        f"{member} {spec} needs ML-KEM, which the installed cryptography library does not support."
    )


def _probe(spec: KeySpec) -> bool:
    """Whether a key of ``spec`` can really be made: the class exists and its OpenSSL implements it."""
    factory = _CLASSES.get(spec)
    if factory is None:
        return False
    try:
        factory.generate()
    except Exception:  # UnsupportedAlgorithm: a cryptography built against an OpenSSL without ML-KEM
        return False
    return True


_AVAILABLE: Final = frozenset(spec for spec in ML_KEM_SPECS if _probe(spec))


def available(spec: KeySpec) -> bool:
    """Whether Strongroom can make and use ML-KEM keys of ``spec`` with the installed library."""
    return spec in _AVAILABLE


def require(spec: KeySpec, member: str = "KeySpec") -> None:
    """UnsupportedOperationException naming ``member`` and ``spec`` unless :func:`available`; called
    before anything is created, so that such a request changes nothing."""
    if spec not in _AVAILABLE:
        raise _unsupported(member, spec)


def generate(spec: KeySpec) -> Any:
    """A new ML-KEM private key of ``spec`` (OpenSSL's generator)."""
    require(spec)
    return _CLASSES[spec].generate()


def is_ml_kem_key(key: object) -> bool:
    """Whether ``key`` is an ML-KEM private or public key object."""
    return bool(_KEY_TYPES) and isinstance(key, _KEY_TYPES)
