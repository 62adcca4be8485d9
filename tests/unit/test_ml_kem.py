"""The ML-KEM domain: seed-format PKCS#8 material, encapsulation checked against pyca's own decapsulation,
implicit rejection, the length check, the algorithm check, and UnsupportedOperationException for
ML_KEM_512 and for a cryptography without ML-KEM."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization

from strongroom.audit.events import _SECRET_MEMBERS
from strongroom.domain import ml_kem
from strongroom.domain.asymmetric import AsymmetricKey, algorithms_for, generate_material, is_asymmetric
from strongroom.domain.keys import KeySpec, KeyUsage
from strongroom.errors import (
    InvalidCiphertextException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
)

needs_ml_kem = pytest.mark.skipif(
    not ml_kem.available(KeySpec.ML_KEM_768), reason="the installed cryptography has no ML-KEM"
)
SPECS = [KeySpec.ML_KEM_768, KeySpec.ML_KEM_1024]


def test_ml_kem_keys_are_asymmetric_with_one_algorithm() -> None:
    for spec in ml_kem.ML_KEM_SPECS:
        assert is_asymmetric(spec)
        assert algorithms_for(spec, KeyUsage.ENCAPSULATE_DECAPSULATE).encapsulation == ("ML_KEM",)
        assert algorithms_for(spec, KeyUsage.ENCAPSULATE_DECAPSULATE).signing == ()


def test_the_new_members_never_reach_the_audit_trail() -> None:
    assert {"SharedSecret", "SharedSecretCiphertextBlob", "PrivateKeyPlaintext"} <= _SECRET_MEMBERS


def test_ml_kem_512_is_unsupported_naming_the_spec() -> None:
    assert not ml_kem.available(KeySpec.ML_KEM_512)
    with pytest.raises(UnsupportedOperationException, match="^KeySpec ML_KEM_512 is not supported"):
        generate_material(KeySpec.ML_KEM_512, os.urandom)
    with pytest.raises(UnsupportedOperationException, match="^KeyPairSpec ML_KEM_512 "):
        ml_kem.require(KeySpec.ML_KEM_512, "KeyPairSpec")


def test_without_the_library_the_specs_are_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ml_kem, "_AVAILABLE", frozenset())
    for spec in SPECS:
        with pytest.raises(UnsupportedOperationException) as raised:
            generate_material(spec, os.urandom)
        assert raised.value.message == (
            f"KeySpec {spec} needs ML-KEM, which the installed cryptography library does not support."
        )


@needs_ml_kem
@pytest.mark.parametrize("spec", SPECS)
def test_material_is_seed_form_pkcs8_and_round_trips(spec: KeySpec) -> None:
    material = generate_material(spec, os.urandom)
    assert len(material) == 86  # the same for every parameter set: a 64-byte seed, as AWS documents
    assert material[-66:-64] == b"\x80\x40"  # [0] IMPLICIT OCTET STRING of 64 bytes: the seed choice
    kem = AsymmetricKey(spec, KeyUsage.ENCAPSULATE_DECAPSULATE, material)
    client_private: object = serialization.load_der_private_key(material, password=None)
    public: object = serialization.load_der_public_key(kem.public_key_der())
    for _ in range(3):
        secret, ciphertext = kem.encapsulate("ML_KEM")
        assert len(secret) == 32 and len(ciphertext) == ml_kem.CIPHERTEXT_LENGTHS[spec]
        assert client_private.decapsulate(ciphertext) == secret  # type: ignore[attr-defined]
        assert kem.decapsulate("ML_KEM", ciphertext) == secret
        theirs, their_ciphertext = public.encapsulate()  # type: ignore[attr-defined]
        assert kem.decapsulate("ML_KEM", their_ciphertext) == theirs


@needs_ml_kem
def test_implicit_rejection_and_the_length_check() -> None:
    kem = AsymmetricKey(
        KeySpec.ML_KEM_768,
        KeyUsage.ENCAPSULATE_DECAPSULATE,
        generate_material(KeySpec.ML_KEM_768, os.urandom),
    )
    secret, ciphertext = kem.encapsulate("ML_KEM")
    for position in (0, 500, len(ciphertext) - 1):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x01
        rejected = kem.decapsulate("ML_KEM", bytes(tampered))
        assert len(rejected) == 32 and rejected != secret
        assert kem.decapsulate("ML_KEM", bytes(tampered)) == rejected  # deterministic
    for wrong in (b"", ciphertext[:-1], ciphertext + b"\0", bytes(1568)):
        with pytest.raises(InvalidCiphertextException):
            kem.decapsulate("ML_KEM", wrong)
    with pytest.raises(
        InvalidKeyUsageException, match="Algorithm ECDH is incompatible with key spec ML_KEM_768."
    ):
        kem.encapsulate("ECDH")
    with pytest.raises(InvalidKeyUsageException):
        kem.sign("ML_DSA_SHAKE_256", b"m", "RAW")
