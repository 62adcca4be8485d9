"""ML-DSA (FIPS 204) through pyca/cryptography, where the installed version has it (46 and later, with an
OpenSSL that supports it). Without it the ML-DSA key specs answer UnsupportedOperationException, and
nothing else changes."""

from __future__ import annotations

from typing import Any, Final

from strongroom.domain.keys import KeySpec
from strongroom.errors import UnsupportedOperationException

__all__ = ["ML_DSA_SPECS", "generate", "is_ml_dsa_key"]

ML_DSA_SPECS: Final = frozenset({KeySpec.ML_DSA_44, KeySpec.ML_DSA_65, KeySpec.ML_DSA_87})

try:
    from cryptography.hazmat.primitives.asymmetric import mldsa
except ImportError:  # an older cryptography
    _CLASSES: dict[KeySpec, Any] = {}
    _KEY_TYPES: tuple[type, ...] = ()
else:
    _CLASSES = {
        KeySpec.ML_DSA_44: mldsa.MLDSA44PrivateKey,
        KeySpec.ML_DSA_65: mldsa.MLDSA65PrivateKey,
        KeySpec.ML_DSA_87: mldsa.MLDSA87PrivateKey,
    }
    _KEY_TYPES = (
        mldsa.MLDSA44PrivateKey,
        mldsa.MLDSA65PrivateKey,
        mldsa.MLDSA87PrivateKey,
        mldsa.MLDSA44PublicKey,
        mldsa.MLDSA65PublicKey,
        mldsa.MLDSA87PublicKey,
    )


def generate(spec: KeySpec) -> Any:
    """A new ML-DSA private key of ``spec``; UnsupportedOperationException if the library has none."""
    factory = _CLASSES.get(spec)
    if factory is None:
        raise UnsupportedOperationException(
            f"KeySpec {spec} needs ML-DSA, which the installed cryptography library does not support."
        )
    try:
        return factory.generate()
    except Exception:  # UnsupportedAlgorithm: an OpenSSL without ML-DSA
        raise UnsupportedOperationException(
            f"KeySpec {spec} needs ML-DSA, which the installed cryptography library does not support."
        ) from None


def is_ml_dsa_key(key: object) -> bool:
    """Whether ``key`` is an ML-DSA private or public key object."""
    return bool(_KEY_TYPES) and isinstance(key, _KEY_TYPES)
