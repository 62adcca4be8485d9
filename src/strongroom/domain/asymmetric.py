"""Asymmetric and HMAC key material: generation, public keys, signatures, MACs and RSA encryption.

Pure code (no I/O). A key's material is what the repository stores wrapped under the root of trust: DER
PKCS#8 for an asymmetric key, the raw key bytes for an HMAC key. The algorithms and their byte formats are
AWS KMS's:

- RSASSA-PSS uses MGF1 with the message hash and a salt as long as the hash; RSASSA-PKCS1-v1_5 is the
  classic padding; RSAES-OAEP uses MGF1 with the OAEP hash and no label. Encryption output is raw.
- ECDSA signatures are DER ``Ecdsa-Sig-Value`` (r, s), over the hash the algorithm names.
- ``ED25519_SHA_512`` is pure Ed25519 over the raw message (RFC 8032); ``ED25519_PH_SHA_512`` is
  Ed25519ph over a given SHA-512 digest (:mod:`strongroom.domain.ed25519ph`).
- ``ML_DSA_SHAKE_256`` is pure ML-DSA (FIPS 204) with an empty context.
- ``ML_KEM`` is FIPS 203's ML-KEM.Encaps / ML-KEM.Decaps (:mod:`strongroom.domain.ml_kem`): a 32-byte
  shared secret and its raw ciphertext; decapsulation rejects implicitly.
- ``MessageType=DIGEST`` signs the given digest as is, after checking its length.

The error messages are AWS's where they are known (see ``shared/reference/kms-wire-semantics.md`` 6.2 and
6.3).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from strongroom.domain import ed25519ph, ml_dsa, ml_kem
from strongroom.domain.keys import KeySpec, KeyUsage, not_implemented
from strongroom.domain.ml_dsa import ML_DSA_SPECS
from strongroom.domain.ml_kem import CIPHERTEXT_LENGTHS, ML_KEM_SPECS
from strongroom.errors import (
    InvalidCiphertextException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)

__all__ = [
    "KEY_PAIR_SPECS",
    "AsymmetricKey",
    "MacKey",
    "algorithms_for",
    "generate_material",
    "is_asymmetric",
    "is_hmac",
    "is_rsa",
    "public_key_of",
]

# GenerateDataKeyPair's KeyPairSpec values, as the KeySpec each one generates (SM2 is China only; an
# ML-KEM spec the installed library lacks answers UnsupportedOperationException, see ml_kem.require).
KEY_PAIR_SPECS: Final = frozenset(
    {
        KeySpec.RSA_2048,
        KeySpec.RSA_3072,
        KeySpec.RSA_4096,
        KeySpec.ECC_NIST_P256,
        KeySpec.ECC_NIST_P384,
        KeySpec.ECC_NIST_P521,
        KeySpec.ECC_SECG_P256K1,
        KeySpec.ECC_NIST_EDWARDS25519,
        KeySpec.ML_KEM_512,
        KeySpec.ML_KEM_768,
        KeySpec.ML_KEM_1024,
    }
)

_RSA_BITS: Final = {KeySpec.RSA_2048: 2048, KeySpec.RSA_3072: 3072, KeySpec.RSA_4096: 4096}
_CURVES: Final[dict[KeySpec, ec.EllipticCurve]] = {
    KeySpec.ECC_NIST_P256: ec.SECP256R1(),
    KeySpec.ECC_NIST_P384: ec.SECP384R1(),
    KeySpec.ECC_NIST_P521: ec.SECP521R1(),
    KeySpec.ECC_SECG_P256K1: ec.SECP256K1(),
}
_HMAC_HASHES: Final = {
    KeySpec.HMAC_224: "sha224",
    KeySpec.HMAC_256: "sha256",
    KeySpec.HMAC_384: "sha384",
    KeySpec.HMAC_512: "sha512",
}
_ML_DSA: Final = ML_DSA_SPECS
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "SHA_1": hashes.SHA1,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}

_RSA_SIGNING: Final = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)
_RSA_ENCRYPTION: Final = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
_ECDSA: Final = {
    KeySpec.ECC_NIST_P256: "ECDSA_SHA_256",
    KeySpec.ECC_NIST_P384: "ECDSA_SHA_384",
    KeySpec.ECC_NIST_P521: "ECDSA_SHA_512",
    KeySpec.ECC_SECG_P256K1: "ECDSA_SHA_256",
}
_ED25519_SIGNING: Final = ("ED25519_SHA_512", "ED25519_PH_SHA_512")


@dataclass(frozen=True, slots=True)
class Algorithms:
    """The algorithm lists a key's metadata shows (only the one matching its usage is non-empty)."""

    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    key_agreement: tuple[str, ...] = ()
    encapsulation: tuple[str, ...] = ()


def is_asymmetric(spec: KeySpec) -> bool:
    return (
        spec in _RSA_BITS
        or spec in _CURVES
        or spec is KeySpec.ECC_NIST_EDWARDS25519
        or spec in _ML_DSA
        or spec in ML_KEM_SPECS
    )


def is_hmac(spec: KeySpec) -> bool:
    return spec in _HMAC_HASHES


def algorithms_for(spec: KeySpec, usage: KeyUsage) -> Algorithms:
    if spec is KeySpec.SYMMETRIC_DEFAULT:
        return Algorithms(encryption=("SYMMETRIC_DEFAULT",))
    if spec in _HMAC_HASHES:
        return Algorithms(mac=(f"HMAC_SHA_{spec.value[5:]}",))
    if usage is KeyUsage.KEY_AGREEMENT:
        return Algorithms(key_agreement=("ECDH",))
    if spec in _RSA_BITS:
        if usage is KeyUsage.ENCRYPT_DECRYPT:
            return Algorithms(encryption=_RSA_ENCRYPTION)
        return Algorithms(signing=_RSA_SIGNING)
    if spec in _CURVES:
        return Algorithms(signing=(_ECDSA[spec],))
    if spec is KeySpec.ECC_NIST_EDWARDS25519:
        return Algorithms(signing=_ED25519_SIGNING)
    if spec in _ML_DSA:
        return Algorithms(signing=("ML_DSA_SHAKE_256",))
    if spec in ML_KEM_SPECS:
        return Algorithms(encapsulation=("ML_KEM",))
    return Algorithms()


def generate_material(spec: KeySpec, random_bytes: Callable[[int], bytes]) -> bytes:
    """New key material for a non-symmetric spec: DER PKCS#8, or for HMAC the key itself (as many random
    bytes as the hash's output, from ``random_bytes``; asymmetric keys come from OpenSSL's generator)."""
    if spec in _HMAC_HASHES:
        return random_bytes(hashlib.new(_HMAC_HASHES[spec]).digest_size)
    private: Any
    if spec in _RSA_BITS:
        private = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[spec])
    elif spec in _CURVES:
        private = ec.generate_private_key(_CURVES[spec])
    elif spec is KeySpec.ECC_NIST_EDWARDS25519:
        private = ed25519.Ed25519PrivateKey.generate()
    elif spec in _ML_DSA:
        private = ml_dsa.generate(spec)
    elif spec in ML_KEM_SPECS:
        private = ml_kem.generate(spec)  # PKCS#8 below is the 64-byte seed form
    else:
        raise not_implemented("KeySpec", spec)
    der: bytes = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def public_key_of(private_key: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a DER PKCS#8 private key (a data key pair's two halves)."""
    loaded = serialization.load_der_private_key(private_key, password=None)
    public: bytes = loaded.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public


def is_rsa(spec: KeySpec) -> bool:
    return spec in _RSA_BITS


def _incompatible(algorithm: str, spec: KeySpec) -> InvalidKeyUsageException:
    return InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {spec}.")


class AsymmetricKey:
    """One asymmetric key's private key, loaded once (the repository caches these objects)."""

    __slots__ = ("_private", "algorithms", "spec")

    def __init__(self, spec: KeySpec, usage: KeyUsage, material: bytes) -> None:
        self.spec = spec
        self.algorithms = algorithms_for(spec, usage)
        if spec in ML_KEM_SPECS:  # a key made where ML-KEM was available, served where it is not
            ml_kem.require(spec)
        self._private = serialization.load_der_private_key(material, password=None)

    def public_key_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo, as GetPublicKey returns it."""
        return self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- signatures ------------------------------------------------------------------------------------
    def sign(self, algorithm: str, message: bytes, message_type: str) -> bytes:
        self.check_signing(algorithm, message, message_type)
        private = self._private
        if isinstance(private, rsa.RSAPrivateKey):
            return private.sign(message, _rsa_padding(algorithm), _prehashed_or_hash(algorithm, message_type))
        if isinstance(private, ec.EllipticCurvePrivateKey):
            return private.sign(message, ec.ECDSA(_prehashed_or_hash(algorithm, message_type)))
        if isinstance(private, ed25519.Ed25519PrivateKey):
            if algorithm == "ED25519_PH_SHA_512":
                return ed25519ph.sign(private.private_bytes_raw(), message)
            return private.sign(message)
        if ml_dsa.is_ml_dsa_key(private):
            signature: bytes = cast(Any, private).sign(message)  # pure ML-DSA, empty context
            return signature
        raise UnsupportedOperationException(f"Signing with key spec {self.spec} is not supported.")

    def verify(self, algorithm: str, message: bytes, message_type: str, signature: bytes) -> bool:
        self.check_signing(algorithm, message, message_type)
        public = self._private.public_key()
        try:
            if isinstance(public, rsa.RSAPublicKey):
                public.verify(
                    signature, message, _rsa_padding(algorithm), _prehashed_or_hash(algorithm, message_type)
                )
            elif isinstance(public, ec.EllipticCurvePublicKey):
                public.verify(signature, message, ec.ECDSA(_prehashed_or_hash(algorithm, message_type)))
            elif isinstance(public, ed25519.Ed25519PublicKey):
                if algorithm == "ED25519_PH_SHA_512":
                    return ed25519ph.verify(public.public_bytes_raw(), message, signature)
                public.verify(signature, message)
            elif ml_dsa.is_ml_dsa_key(public):
                cast(Any, public).verify(signature, message)
            else:
                return False
        except InvalidSignature:
            return False
        return True

    def check_signing(self, algorithm: str, message: bytes, message_type: str) -> None:
        """The checks before signing or verifying: the algorithm, the message type, a digest's length."""
        if algorithm not in self.algorithms.signing:
            raise _incompatible(algorithm, self.spec)
        if algorithm == "ED25519_PH_SHA_512":  # signs a SHA-512 digest, given as is
            if message_type != "DIGEST":
                raise ValidationException(
                    f"Message type {message_type} is incompatible with signing algorithm {algorithm}."
                )
            if len(message) != 64:
                raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
            return
        if self.spec in _ML_DSA:
            if message_type == "EXTERNAL_MU":  # signing from a given mu needs an API pyca does not offer
                raise UnsupportedOperationException(
                    "MessageType EXTERNAL_MU is not supported by Strongroom yet."
                )
            if message_type != "RAW":
                raise ValidationException(
                    f"Message type {message_type} is incompatible with key spec {self.spec}."
                )
            return
        if message_type == "EXTERNAL_MU":
            raise ValidationException(f"Message type EXTERNAL_MU is incompatible with key spec {self.spec}.")
        if algorithm == "ED25519_SHA_512":
            if message_type != "RAW":
                raise ValidationException(
                    f"Message type {message_type} is incompatible with signing algorithm {algorithm}."
                )
            return
        if message_type == "DIGEST" and len(message) != _hash_of(algorithm).digest_size:
            raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")

    # -- key agreement ---------------------------------------------------------------------------------
    def derive_shared_secret(self, algorithm: str, peer_public_key: bytes) -> bytes:
        """ECDH with the peer's DER SubjectPublicKeyInfo (same curve): the raw shared secret, the
        x-coordinate of the shared point, as AWS returns it.

        A public key that is unusable (not DER SubjectPublicKeyInfo, not a key of this curve, or a point
        OpenSSL refuses) is ``ValidationException`` with no message at all: that is what AWS answered for
        ``PublicKey=b"InvalidPublicKey"`` in LocalStack's AWS-validated ``test_derive_shared_secret``
        recording. We give the other two cases the same bare answer rather than invent a text."""
        if algorithm not in self.algorithms.key_agreement or not isinstance(
            self._private, ec.EllipticCurvePrivateKey
        ):
            raise _incompatible(algorithm, self.spec)
        try:
            peer = serialization.load_der_public_key(peer_public_key)
        except (ValueError, TypeError):
            raise ValidationException() from None
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != self._private.curve.name:
            raise ValidationException()
        try:
            return self._private.exchange(ec.ECDH(), peer)
        except ValueError:  # a point OpenSSL refuses
            raise ValidationException() from None

    # -- key encapsulation -----------------------------------------------------------------------------
    def encapsulate(self, algorithm: str) -> tuple[bytes, bytes]:
        """(shared secret, ciphertext): a fresh 32-byte secret encapsulated under the public key."""
        private = self._require_ml_kem(algorithm)
        shared_secret, ciphertext = cast(Any, private).public_key().encapsulate()
        return bytes(shared_secret), bytes(ciphertext)

    def decapsulate(self, algorithm: str, ciphertext: bytes) -> bytes:
        """The 32-byte shared secret of ``ciphertext``.

        Only a ciphertext of the wrong length is refused (``InvalidCiphertextException``, no message):
        any other, tampered or made for another key, yields FIPS 203's implicit-rejection value, a
        pseudo-random secret derived from the key's ``z`` and the ciphertext, in constant time. That is
        what the Decapsulate documentation says AWS does; the caller must confirm the secrets match."""
        private = self._require_ml_kem(algorithm)
        if len(ciphertext) != CIPHERTEXT_LENGTHS[self.spec]:
            raise InvalidCiphertextException()
        try:
            return bytes(cast(Any, private).decapsulate(ciphertext))
        except ValueError:  # the library's own length check; unreachable after ours
            raise InvalidCiphertextException() from None

    def _require_ml_kem(self, algorithm: str) -> object:
        if algorithm not in self.algorithms.encapsulation or not ml_kem.is_ml_kem_key(self._private):
            raise _incompatible(algorithm, self.spec)
        return self._private

    # -- RSA encryption --------------------------------------------------------------------------------
    def encrypt(self, algorithm: str, plaintext: bytes) -> bytes:
        private = self._require_rsa_encryption(algorithm)
        limit = self.max_plaintext(algorithm)
        if len(plaintext) > limit:
            raise ValidationException(
                f"Algorithm {algorithm} and key spec {self.spec} cannot encrypt data larger than "
                f"{limit} bytes."
            )
        return private.public_key().encrypt(plaintext, _oaep(algorithm))

    def decrypt(self, algorithm: str, ciphertext: bytes) -> bytes:
        private = self._require_rsa_encryption(algorithm)
        try:
            return private.decrypt(ciphertext, _oaep(algorithm))
        except ValueError:
            raise InvalidCiphertextException() from None

    def max_plaintext(self, algorithm: str) -> int:
        """RSAES-OAEP's limit: the modulus length less twice the hash length and 2 (214/190 for 2048)."""
        size = _RSA_BITS[self.spec] // 8
        return size - 2 * _hash_of(algorithm).digest_size - 2

    def _require_rsa_encryption(self, algorithm: str) -> rsa.RSAPrivateKey:
        if algorithm not in self.algorithms.encryption or not isinstance(self._private, rsa.RSAPrivateKey):
            raise _incompatible(algorithm, self.spec)
        return self._private


class MacKey:
    """One HMAC key (the raw key bytes, unwrapped once and cached by the repository)."""

    __slots__ = ("_hash", "_secret", "algorithm", "spec")

    def __init__(self, spec: KeySpec, secret: bytes) -> None:
        self.spec = spec
        self._hash = _HMAC_HASHES[spec]
        self._secret = secret
        self.algorithm = f"HMAC_SHA_{spec.value[5:]}"

    def check_algorithm(self, algorithm: str) -> None:
        if algorithm != self.algorithm:
            raise _incompatible(algorithm, self.spec)

    def generate(self, algorithm: str, message: bytes) -> bytes:
        self.check_algorithm(algorithm)
        return hmac.new(self._secret, message, self._hash).digest()

    def verify(self, algorithm: str, message: bytes, mac: bytes) -> bool:
        """In constant time."""
        return hmac.compare_digest(self.generate(algorithm, message), mac)


def _hash_of(algorithm: str) -> hashes.HashAlgorithm:
    for suffix, factory in _HASHES.items():
        if algorithm.endswith(suffix):
            return factory()
    raise ValueError(f"no hash in {algorithm}")


def _prehashed_or_hash(algorithm: str, message_type: str) -> hashes.HashAlgorithm | utils.Prehashed:
    digest = _hash_of(algorithm)
    return utils.Prehashed(digest) if message_type == "DIGEST" else digest


def _rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        digest = _hash_of(algorithm)
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    return padding.PKCS1v15()


def _oaep(algorithm: str) -> padding.OAEP:
    digest = _hash_of(algorithm)
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
