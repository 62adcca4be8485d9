"""The asymmetric and HMAC domain: known answers (RFC 4231 HMAC), RSAES-OAEP limits, the checks before
signing, a tamper grid over an RSA ciphertext and over signatures, and the public key formats."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from strongroom.domain.asymmetric import AsymmetricKey, MacKey, algorithms_for, generate_material
from strongroom.domain.keys import KeySpec, KeyUsage
from strongroom.errors import (
    InvalidCiphertextException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)


def key(spec: KeySpec, usage: KeyUsage) -> AsymmetricKey:
    return AsymmetricKey(spec, usage, generate_material(spec, os.urandom))


def test_hmac_known_answers_rfc_4231_case_2() -> None:
    message = b"what do ya want for nothing?"
    expected = {
        KeySpec.HMAC_224: "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        KeySpec.HMAC_256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        KeySpec.HMAC_384: "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        KeySpec.HMAC_512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    }
    for spec, answer in expected.items():
        mac_key = MacKey(spec, b"Jefe")
        algorithm = f"HMAC_SHA_{spec.value[5:]}"
        assert mac_key.generate(algorithm, message).hex() == answer
        assert mac_key.verify(algorithm, message, bytes.fromhex(answer))
        assert not mac_key.verify(algorithm, message + b"!", bytes.fromhex(answer))
    assert len(generate_material(KeySpec.HMAC_384, os.urandom)) == 48
    with pytest.raises(
        InvalidKeyUsageException, match="Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_512."
    ):
        MacKey(KeySpec.HMAC_512, b"k").generate("HMAC_SHA_256", b"m")


def test_rsa_oaep_limits_and_a_tamper_grid() -> None:
    rsa = key(KeySpec.RSA_2048, KeyUsage.ENCRYPT_DECRYPT)
    assert (rsa.max_plaintext("RSAES_OAEP_SHA_1"), rsa.max_plaintext("RSAES_OAEP_SHA_256")) == (214, 190)
    ciphertext = rsa.encrypt("RSAES_OAEP_SHA_256", b"secret")
    assert len(ciphertext) == 256 and rsa.decrypt("RSAES_OAEP_SHA_256", ciphertext) == b"secret"
    with pytest.raises(InvalidCiphertextException):
        rsa.decrypt("RSAES_OAEP_SHA_1", ciphertext)  # the other hash
    for index in range(len(ciphertext)):
        tampered = bytearray(ciphertext)
        tampered[index] ^= 0x80
        with pytest.raises(InvalidCiphertextException):
            rsa.decrypt("RSAES_OAEP_SHA_256", bytes(tampered))
    with pytest.raises(InvalidCiphertextException):
        rsa.decrypt("RSAES_OAEP_SHA_256", ciphertext[:-1])
    with pytest.raises(ValidationException, match="cannot encrypt data larger than 190 bytes"):
        rsa.encrypt("RSAES_OAEP_SHA_256", bytes(191))
    with pytest.raises(InvalidKeyUsageException):
        rsa.encrypt("SYMMETRIC_DEFAULT", b"x")


def test_the_checks_before_signing() -> None:
    ecdsa = key(KeySpec.ECC_NIST_P256, KeyUsage.SIGN_VERIFY)
    with pytest.raises(ValidationException, match="Digest is invalid length for algorithm ECDSA_SHA_256."):
        ecdsa.check_signing("ECDSA_SHA_256", bytes(31), "DIGEST")
    with pytest.raises(InvalidKeyUsageException, match="incompatible with key spec ECC_NIST_P256"):
        ecdsa.check_signing("ECDSA_SHA_384", bytes(48), "DIGEST")
    with pytest.raises(ValidationException, match="EXTERNAL_MU"):
        ecdsa.check_signing("ECDSA_SHA_256", bytes(64), "EXTERNAL_MU")
    edwards = key(KeySpec.ECC_NIST_EDWARDS25519, KeyUsage.SIGN_VERIFY)
    with pytest.raises(ValidationException):
        edwards.check_signing("ED25519_SHA_512", bytes(64), "DIGEST")
    with pytest.raises(ValidationException, match="Message type RAW is incompatible"):
        edwards.check_signing("ED25519_PH_SHA_512", bytes(64), "RAW")
    with pytest.raises(
        ValidationException, match="Digest is invalid length for algorithm ED25519_PH_SHA_512."
    ):
        edwards.check_signing("ED25519_PH_SHA_512", bytes(32), "DIGEST")


def test_ed25519ph_rfc_8032_section_7_3_known_answer() -> None:
    seed = bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
    expected = bytes.fromhex(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
        "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
    )
    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    material = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = AsymmetricKey(KeySpec.ECC_NIST_EDWARDS25519, KeyUsage.SIGN_VERIFY, material)
    digest = hashlib.sha512(b"abc").digest()
    assert signer.sign("ED25519_PH_SHA_512", digest, "DIGEST") == expected
    assert signer.verify("ED25519_PH_SHA_512", digest, "DIGEST", expected)
    assert not signer.verify("ED25519_PH_SHA_512", hashlib.sha512(b"abd").digest(), "DIGEST", expected)
    for index in range(64):  # a flipped bit anywhere in R or S
        tampered = bytearray(expected)
        tampered[index] ^= 0x01
        assert not signer.verify("ED25519_PH_SHA_512", digest, "DIGEST", bytes(tampered))
    # the pure variant of the same key gives another signature, which the ph check refuses
    assert not signer.verify("ED25519_PH_SHA_512", digest, "DIGEST", private.sign(digest))


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        (KeySpec.RSA_2048, "RSASSA_PSS_SHA_256"),
        (KeySpec.RSA_2048, "RSASSA_PKCS1_V1_5_SHA_512"),
        (KeySpec.ECC_NIST_P521, "ECDSA_SHA_512"),
        (KeySpec.ECC_SECG_P256K1, "ECDSA_SHA_256"),
        (KeySpec.ECC_NIST_EDWARDS25519, "ED25519_SHA_512"),
        (KeySpec.ML_DSA_65, "ML_DSA_SHAKE_256"),
    ],
)
def test_a_signature_verifies_and_any_flipped_bit_does_not(spec: KeySpec, algorithm: str) -> None:
    signer = key(spec, KeyUsage.SIGN_VERIFY)
    signature = signer.sign(algorithm, b"message", "RAW")
    assert signer.verify(algorithm, b"message", "RAW", signature)
    assert not signer.verify(algorithm, b"messagf", "RAW", signature)
    for index in range(0, len(signature), max(1, len(signature) // 64)):  # a grid across the signature
        tampered = bytearray(signature)
        tampered[index] ^= 0x01
        assert not signer.verify(algorithm, b"message", "RAW", bytes(tampered))


def test_public_keys_are_der_subject_public_key_info() -> None:
    edwards = key(KeySpec.ECC_NIST_EDWARDS25519, KeyUsage.SIGN_VERIFY).public_key_der()
    assert len(edwards) == 44  # as AWS gives it
    for spec in (KeySpec.RSA_2048, KeySpec.ECC_NIST_P384, KeySpec.ML_DSA_44):
        der = key(spec, KeyUsage.SIGN_VERIFY).public_key_der()
        assert serialization.load_der_public_key(der) is not None


def test_algorithm_lists_follow_the_usage() -> None:
    assert algorithms_for(KeySpec.RSA_4096, KeyUsage.ENCRYPT_DECRYPT).encryption == (
        "RSAES_OAEP_SHA_1",
        "RSAES_OAEP_SHA_256",
    )
    assert algorithms_for(KeySpec.RSA_4096, KeyUsage.SIGN_VERIFY).encryption == ()
    assert algorithms_for(KeySpec.ECC_NIST_P384, KeyUsage.KEY_AGREEMENT).key_agreement == ("ECDH",)
    assert algorithms_for(KeySpec.HMAC_224, KeyUsage.GENERATE_VERIFY_MAC).mac == ("HMAC_SHA_224",)
    assert algorithms_for(KeySpec.SYMMETRIC_DEFAULT, KeyUsage.ENCRYPT_DECRYPT).encryption == (
        "SYMMETRIC_DEFAULT",
    )


def _spki(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_an_unusable_peer_public_key_is_a_validation_error_without_message() -> None:
    """AWS answers a bad DeriveSharedSecret PublicKey with a bare ValidationException (no message)."""
    agreeing = key(KeySpec.ECC_NIST_P256, KeyUsage.KEY_AGREEMENT)
    peer = ec.generate_private_key(ec.SECP256R1())
    ours = serialization.load_der_public_key(agreeing.public_key_der())
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    assert agreeing.derive_shared_secret("ECDH", _spki(peer.public_key())) == peer.exchange(ec.ECDH(), ours)
    point = bytearray(_spki(peer.public_key()))
    point[-1] ^= 0x01  # off the curve
    unusable = [
        b"InvalidPublicKey",
        b"",
        bytes(point),
        _spki(ec.generate_private_key(ec.SECP384R1()).public_key()),  # another curve
        _spki(rsa.generate_private_key(65537, 2048).public_key()),  # not an EC key
    ]
    for public_key in unusable:
        with pytest.raises(ValidationException) as info:
            agreeing.derive_shared_secret("ECDH", public_key)
        assert info.value.message is None and str(info.value) == ""


def test_ml_dsa_without_library_support_is_a_clear_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    from strongroom.domain import ml_dsa

    monkeypatch.setattr(ml_dsa, "_CLASSES", {})  # as with a cryptography older than ML-DSA
    with pytest.raises(UnsupportedOperationException, match="cryptography library does not support"):
        generate_material(KeySpec.ML_DSA_87, os.urandom)
