"""Asymmetric and HMAC keys over HTTP with boto3: CreateKey for every spec and usage, GetPublicKey,
Sign/Verify with every algorithm and message type, RSA Encrypt/Decrypt, GenerateMac/VerifyMac, and the
usage errors. Every signature, MAC and ciphertext is cross-checked on the client side with pyca
``cryptography`` (or ``hmac``) and the public key from GetPublicKey."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from tests.conftest import ACCOUNT_ID, aws_env, aws_error

_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
]
_KEYS: dict[tuple[str, str], str] = {}


def key_of(kms: Any, spec: str, usage: str) -> str:
    """One key per (spec, usage) for the session: RSA 4096 generation is not free."""
    if (spec, usage) not in _KEYS:
        _KEYS[spec, usage] = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["KeyId"]
    return _KEYS[spec, usage]


def public_key(kms: Any, key_id: str) -> Any:
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


def client_verify(public: Any, algorithm: str, signature: bytes, message: bytes, digest: bool) -> None:
    """Verify as a client would, with the key from GetPublicKey; raises InvalidSignature."""
    chosen = _HASH[algorithm[-3:]]()
    hashed: Any = utils.Prehashed(chosen) if digest else chosen
    if isinstance(public, rsa.RSAPublicKey):
        scheme = (
            padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        public.verify(signature, message, scheme, hashed)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(hashed))
    else:
        public.verify(signature, message)


@pytest.mark.parametrize(
    ("spec", "usage", "listed"),
    [
        ("RSA_2048", "ENCRYPT_DECRYPT", {"EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]}),
        ("RSA_3072", "SIGN_VERIFY", {"SigningAlgorithms": _RSA_SIGNING}),
        ("ECC_NIST_P256", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
        ("ECC_NIST_P384", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_384"]}),
        ("ECC_NIST_P521", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_512"]}),
        ("ECC_NIST_P256", "KEY_AGREEMENT", {"KeyAgreementAlgorithms": ["ECDH"]}),
        ("ECC_SECG_P256K1", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
        (
            "ECC_NIST_EDWARDS25519",
            "SIGN_VERIFY",
            {"SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"]},
        ),
        ("RSA_4096", "ENCRYPT_DECRYPT", {"EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]}),
        ("RSA_2048", "SIGN_VERIFY", {"SigningAlgorithms": _RSA_SIGNING}),
        ("ECC_NIST_P384", "KEY_AGREEMENT", {"KeyAgreementAlgorithms": ["ECDH"]}),
        ("ECC_NIST_P521", "KEY_AGREEMENT", {"KeyAgreementAlgorithms": ["ECDH"]}),
        ("HMAC_224", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_224"]}),
        ("HMAC_256", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_256"]}),
        ("HMAC_384", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_384"]}),
        ("ML_DSA_65", "SIGN_VERIFY", {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]}),
        ("ML_DSA_87", "SIGN_VERIFY", {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]}),
        ("HMAC_512", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_512"]}),
        ("ML_DSA_44", "SIGN_VERIFY", {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]}),
    ],
)
def test_create_key_metadata_lists_only_the_usage_algorithms(kms, spec, usage, listed):
    meta = kms.describe_key(KeyId=key_of(kms, spec, usage))["KeyMetadata"]
    assert (meta["KeySpec"], meta["CustomerMasterKeySpec"], meta["KeyUsage"]) == (spec, spec, usage)
    lists = {"EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"}
    assert {name: meta[name] for name in lists if name in meta} == listed
    assert "CurrentKeyMaterialId" not in meta


def test_create_key_refuses_what_aws_refuses(kms):
    assert aws_error(kms.create_key, KeySpec="RSA_2048") == (
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
        400,
    )
    assert aws_error(kms.create_key, KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT") == (
        "ValidationException",
        "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048",
        400,
    )
    assert aws_error(kms.create_key, KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")[:2] == (
        "ValidationException",
        "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256",
    )
    assert aws_error(kms.create_key, KeySpec="ECC_SECG_P256K1", KeyUsage="KEY_AGREEMENT")[0] == (
        "ValidationException"
    )
    assert aws_error(kms.create_key, KeySpec="SM2", KeyUsage="SIGN_VERIFY")[:2] == (
        "UnsupportedOperationException",
        "KeySpec SM2 is not supported in this Region",
    )


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        *((spec, a) for spec in ("RSA_2048", "RSA_3072", "RSA_4096") for a in _RSA_SIGNING),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ],
)
def test_sign_raw_and_digest_verify_in_kms_and_on_the_client(kms, spec, algorithm):
    key_id = key_of(kms, spec, "SIGN_VERIFY")
    public = public_key(kms, key_id)
    message = os.urandom(300)
    digest = hashlib.new("sha" + algorithm[-3:], message).digest()
    for message_type, payload in (("RAW", message), ("DIGEST", digest)):
        signed = kms.sign(KeyId=key_id, Message=payload, MessageType=message_type, SigningAlgorithm=algorithm)
        assert signed["SigningAlgorithm"] == algorithm and signed["KeyId"].endswith(key_id)
        signature = signed["Signature"]
        client_verify(public, algorithm, signature, payload, digest=message_type == "DIGEST")
        # a RAW signature and a DIGEST signature of the same message are interchangeable
        client_verify(public, algorithm, signature, message, digest=False)
        verified = kms.verify(
            KeyId=key_id,
            Message=payload,
            MessageType=message_type,
            Signature=signature,
            SigningAlgorithm=algorithm,
        )
        assert verified["SignatureValid"] is True
        tampered = bytes([signature[0] ^ 1]) + signature[1:]
        assert aws_error(
            kms.verify,
            KeyId=key_id,
            Message=payload,
            MessageType=message_type,
            Signature=tampered,
            SigningAlgorithm=algorithm,
        )[:2] == ("KMSInvalidSignatureException", "")


def test_ed25519_and_ml_dsa_sign_the_raw_message(kms):
    for spec, algorithm in (
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ("ML_DSA_44", "ML_DSA_SHAKE_256"),
        ("ML_DSA_65", "ML_DSA_SHAKE_256"),
        ("ML_DSA_87", "ML_DSA_SHAKE_256"),
    ):
        key_id = key_of(kms, spec, "SIGN_VERIFY")
        public = public_key(kms, key_id)
        signature = kms.sign(KeyId=key_id, Message=b"a message", SigningAlgorithm=algorithm)["Signature"]
        public.verify(signature, b"a message")
        assert kms.verify(
            KeyId=key_id, Message=b"a message", Signature=signature, SigningAlgorithm=algorithm
        )["SignatureValid"]
        assert (
            aws_error(
                kms.verify,
                KeyId=key_id,
                Message=b"another message",
                Signature=signature,
                SigningAlgorithm=algorithm,
            )[0]
            == "KMSInvalidSignatureException"
        )
    assert isinstance(
        public_key(kms, key_of(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")), ed25519.Ed25519PublicKey
    )
    assert aws_error(
        kms.sign,
        KeyId=key_of(kms, "ML_DSA_44", "SIGN_VERIFY"),
        Message=b"x" * 32,
        MessageType="DIGEST",
        SigningAlgorithm="ML_DSA_SHAKE_256",
    )[:2] == ("ValidationException", "Message type DIGEST is incompatible with key spec ML_DSA_44.")


def test_ed25519ph_signs_a_sha512_digest(kms):
    key_id = key_of(kms, "ECC_NIST_EDWARDS25519", "SIGN_VERIFY")
    digest = hashlib.sha512(b"a large release artefact").digest()
    signed = kms.sign(
        KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm="ED25519_PH_SHA_512"
    )
    signature = signed["Signature"]
    assert len(signature) == 64 and signed["SigningAlgorithm"] == "ED25519_PH_SHA_512"
    assert kms.verify(
        KeyId=key_id,
        Message=digest,
        MessageType="DIGEST",
        Signature=signature,
        SigningAlgorithm="ED25519_PH_SHA_512",
    )["SignatureValid"]
    other = hashlib.sha512(b"another artefact").digest()
    assert aws_error(
        kms.verify,
        KeyId=key_id,
        Message=other,
        MessageType="DIGEST",
        Signature=signature,
        SigningAlgorithm="ED25519_PH_SHA_512",
    )[0] == ("KMSInvalidSignatureException")
    assert aws_error(
        kms.sign,
        KeyId=key_id,
        Message=digest[:32],
        MessageType="DIGEST",
        SigningAlgorithm="ED25519_PH_SHA_512",
    )[:2] == ("ValidationException", "Digest is invalid length for algorithm ED25519_PH_SHA_512.")


def test_signing_errors(kms, key_id):
    rsa_key = key_of(kms, "RSA_2048", "SIGN_VERIFY")
    assert aws_error(
        kms.sign,
        KeyId=rsa_key,
        Message=b"x" * 31,
        MessageType="DIGEST",
        SigningAlgorithm="RSASSA_PSS_SHA_256",
    )[:2] == ("ValidationException", "Digest is invalid length for algorithm RSASSA_PSS_SHA_256.")
    assert aws_error(kms.sign, KeyId=rsa_key, Message=b"x", SigningAlgorithm="ECDSA_SHA_256")[:2] == (
        "InvalidKeyUsageException",
        "Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048.",
    )
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert aws_error(kms.sign, KeyId=key_id, Message=b"x", SigningAlgorithm="ECDSA_SHA_256")[:2] == (
        "InvalidKeyUsageException",
        f"{arn} key usage is ENCRYPT_DECRYPT which is not valid for Sign.",
    )
    assert aws_error(kms.get_public_key, KeyId=key_id)[:2] == ("UnsupportedOperationException", "")
    assert aws_error(
        kms.sign, KeyId=rsa_key, Message=b"x", SigningAlgorithm="RSASSA_PSS_SHA_256", DryRun=True
    )[0] == ("DryRunOperationException")


@pytest.mark.parametrize(
    ("algorithm", "sizes"), [("RSAES_OAEP_SHA_1", (214, 342, 470)), ("RSAES_OAEP_SHA_256", (190, 318, 446))]
)
def test_rsa_encrypt_decrypt_and_the_size_limits(kms, algorithm, sizes):
    for spec, limit in zip(("RSA_2048", "RSA_3072", "RSA_4096"), sizes, strict=True):
        key_id = key_of(kms, spec, "ENCRYPT_DECRYPT")
        plaintext = os.urandom(limit)
        encrypted = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionAlgorithm=algorithm)
        assert encrypted["EncryptionAlgorithm"] == algorithm
        assert len(encrypted["CiphertextBlob"]) == int(spec[4:]) // 8  # raw RSAES-OAEP
        decrypted = kms.decrypt(
            KeyId=key_id, CiphertextBlob=encrypted["CiphertextBlob"], EncryptionAlgorithm=algorithm
        )
        assert (decrypted["Plaintext"], decrypted["EncryptionAlgorithm"]) == (plaintext, algorithm)
        assert "KeyMaterialId" not in decrypted
        assert aws_error(
            kms.encrypt, KeyId=key_id, Plaintext=plaintext + b"x", EncryptionAlgorithm=algorithm
        )[:2] == (
            "ValidationException",
            f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes.",
        )
        # data encrypted on the client with the public key decrypts in KMS
        chosen = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
        offline = public_key(kms, key_id).encrypt(
            b"offline secret", padding.OAEP(mgf=padding.MGF1(chosen), algorithm=chosen, label=None)
        )
        assert (
            kms.decrypt(KeyId=key_id, CiphertextBlob=offline, EncryptionAlgorithm=algorithm)["Plaintext"]
            == b"offline secret"
        )


def test_rsa_encryption_errors(kms, key_id):
    rsa_key = key_of(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    assert aws_error(kms.encrypt, KeyId=rsa_key, Plaintext=b"x")[:2] == (
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    )
    blob = kms.encrypt(KeyId=rsa_key, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        "CiphertextBlob"
    ]
    # the default algorithm parses the blob as a symmetric ciphertext first, as AWS does
    assert aws_error(kms.decrypt, KeyId=rsa_key, CiphertextBlob=blob)[0] == "InvalidCiphertextException"
    assert aws_error(kms.decrypt, KeyId=rsa_key, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1")[
        :2
    ] == (
        "InvalidCiphertextException",
        "",
    )
    tampered = bytes([blob[0] ^ 1]) + blob[1:]
    assert aws_error(
        kms.decrypt, KeyId=rsa_key, CiphertextBlob=tampered, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )[0] == ("InvalidCiphertextException")
    assert aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        :2
    ] == (
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec SYMMETRIC_DEFAULT.",
    )
    assert aws_error(kms.generate_data_key, KeyId=rsa_key, KeySpec="AES_256")[:2] == (
        "InvalidKeyUsageException",
        "You cannot generate a data key with an asymmetric CMK",
    )
    assert aws_error(
        kms.encrypt,
        KeyId=rsa_key,
        Plaintext=b"x",
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        EncryptionContext={"a": "b"},
    )[0] == ("ValidationException")
    # ReEncrypt from a symmetric key to an RSA key, and back
    symmetric_blob = kms.encrypt(KeyId=key_id, Plaintext=b"moved")["CiphertextBlob"]
    moved = kms.re_encrypt(
        CiphertextBlob=symmetric_blob,
        DestinationKeyId=rsa_key,
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert (
        moved["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
        and "DestinationKeyMaterialId" not in moved
    )
    back = kms.re_encrypt(
        CiphertextBlob=moved["CiphertextBlob"],
        SourceKeyId=rsa_key,
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
        DestinationKeyId=key_id,
    )
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"moved"


@pytest.mark.parametrize("bits", ["224", "256", "384", "512"])
def test_generate_and_verify_mac(kms, bits):
    key_id = key_of(kms, f"HMAC_{bits}", "GENERATE_VERIFY_MAC")
    algorithm = f"HMAC_SHA_{bits}"
    mac = kms.generate_mac(KeyId=key_id, Message=b"payload", MacAlgorithm=algorithm)
    assert mac["MacAlgorithm"] == algorithm and len(mac["Mac"]) == int(bits) // 8
    assert kms.verify_mac(KeyId=key_id, Message=b"payload", Mac=mac["Mac"], MacAlgorithm=algorithm)[
        "MacValid"
    ]
    assert aws_error(
        kms.verify_mac, KeyId=key_id, Message=b"payload!", Mac=mac["Mac"], MacAlgorithm=algorithm
    )[:2] == ("KMSInvalidMacException", "")
    other = "HMAC_SHA_256" if bits != "256" else "HMAC_SHA_384"
    assert aws_error(kms.generate_mac, KeyId=key_id, Message=b"payload", MacAlgorithm=other)[:2] == (
        "InvalidKeyUsageException",
        f"Algorithm {other} is incompatible with key spec HMAC_{bits}.",
    )
    # the same key gives the same MAC: deterministic, and distinct keys give distinct MACs
    assert kms.generate_mac(KeyId=key_id, Message=b"payload", MacAlgorithm=algorithm)["Mac"] == mac["Mac"]
    assert hmac.compare_digest(mac["Mac"], mac["Mac"])


def test_mac_usage_errors(kms, key_id):
    hmac_key = key_of(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    arn = kms.describe_key(KeyId=hmac_key)["KeyMetadata"]["Arn"]
    assert aws_error(kms.encrypt, KeyId=hmac_key, Plaintext=b"x")[:2] == (
        "InvalidKeyUsageException",
        f"{arn} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.",
    )
    symmetric_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert aws_error(kms.generate_mac, KeyId=key_id, Message=b"x", MacAlgorithm="HMAC_SHA_256")[:2] == (
        "InvalidKeyUsageException",
        f"{symmetric_arn} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
    )
    assert aws_error(kms.get_public_key, KeyId=hmac_key)[0] == "UnsupportedOperationException"


def test_openssl_verifies_a_signature_with_the_exported_public_key(kms, tmp_path: Path):
    key_id = key_of(kms, "ECC_NIST_P384", "SIGN_VERIFY")
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    (tmp_path / "public.der").write_bytes(der)
    (tmp_path / "message").write_bytes(b"signed by strongroom")
    signature = kms.sign(KeyId=key_id, Message=b"signed by strongroom", SigningAlgorithm="ECDSA_SHA_384")[
        "Signature"
    ]
    (tmp_path / "signature").write_bytes(signature)
    result = subprocess.run(
        [
            "openssl", "dgst", "-sha384", "-verify", str(tmp_path / "public.der"), "-keyform", "DER",
            "-signature", str(tmp_path / "signature"), str(tmp_path / "message"),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "pair_spec",
    [
        "RSA_2048",
        "RSA_3072",
        "RSA_4096",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
        "ECC_NIST_EDWARDS25519",
    ],
)
def test_generate_data_key_pair(kms, key_id, pair_spec):
    context = {"purpose": "pair"}
    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=pair_spec, EncryptionContext=context)
    assert (
        pair["KeyPairSpec"] == pair_spec
        and pair["KeyId"].endswith(key_id)
        and len(pair["KeyMaterialId"]) == 64
    )
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)  # PKCS#8
    public = serialization.load_der_public_key(pair["PublicKey"])  # SubjectPublicKeyInfo
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pair["PublicKey"]
    )
    assert type(public).__name__.replace("Public", "") == type(private).__name__.replace("Private", "")
    decrypted = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert decrypted["Plaintext"] == pair["PrivateKeyPlaintext"]
    assert (
        aws_error(kms.decrypt, CiphertextBlob=pair["PrivateKeyCiphertextBlob"])[0]
        == "InvalidCiphertextException"
    )
    without = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in without
    recovered = kms.decrypt(CiphertextBlob=without["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert (
        serialization.load_der_private_key(recovered, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == without["PublicKey"]
    )


def test_data_key_pair_errors(kms, key_id):
    rsa_key = key_of(kms, "RSA_2048", "ENCRYPT_DECRYPT")
    assert aws_error(kms.generate_data_key_pair, KeyId=rsa_key, KeyPairSpec="ECC_NIST_P256")[0] == (
        "InvalidKeyUsageException"
    )
    assert aws_error(kms.generate_data_key_pair, KeyId=key_id, KeyPairSpec="SM2")[:2] == (
        "UnsupportedOperationException",
        "KeyPairSpec SM2 is not supported in this Region",
    )
    assert aws_error(kms.generate_data_key_pair, KeyId=key_id, KeyPairSpec="ECC_NIST_P256", DryRun=True)[
        :2
    ] == (
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"])
def test_derive_shared_secret_matches_the_client_side_ecdh(kms, spec):
    key_id = key_of(kms, spec, "KEY_AGREEMENT")
    kms_public = public_key(kms, key_id)
    peer = ec.generate_private_key(kms_public.curve)
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    derived = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der)
    assert derived["SharedSecret"] == peer.exchange(ec.ECDH(), kms_public)
    assert (derived["KeyAgreementAlgorithm"], derived["KeyOrigin"]) == ("ECDH", "AWS_KMS")
    other_curve = ec.generate_private_key(ec.SECP256K1()).public_key()
    other_der = other_curve.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # an unusable public key: ValidationException with no message at all, as AWS answers it
    for unusable in (other_der, b"InvalidPublicKey"):
        assert aws_error(
            kms.derive_shared_secret, KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=unusable
        ) == ("ValidationException", "", 400)
    signing = key_of(kms, spec, "SIGN_VERIFY") if spec == "ECC_NIST_P256" else None
    if signing is not None:
        arn = kms.describe_key(KeyId=signing)["KeyMetadata"]["Arn"]
        assert aws_error(
            kms.derive_shared_secret, KeyId=signing, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der
        )[:2] == (
            "InvalidKeyUsageException",
            f"{arn} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.",
        )


def test_grants_on_asymmetric_keys_take_the_operations_of_their_usage(kms):
    signing = key_of(kms, "ECC_NIST_P256", "SIGN_VERIFY")
    principal = f"arn:aws:iam::{ACCOUNT_ID}:root"
    granted = kms.create_grant(
        KeyId=signing, GranteePrincipal=principal, Operations=["Sign", "Verify", "GetPublicKey"]
    )
    assert granted["GrantId"]
    code, message, _ = aws_error(
        kms.create_grant, KeyId=signing, GranteePrincipal=principal, Operations=["Decrypt"]
    )
    assert code == "ValidationException" and "Decrypt" in message
    assert aws_error(
        kms.create_grant,
        KeyId=signing,
        GranteePrincipal=principal,
        Operations=["Sign"],
        Constraints={"EncryptionContextEquals": {"a": "b"}},
    )[0] == ("ValidationException")
    mac = key_of(kms, "HMAC_256", "GENERATE_VERIFY_MAC")
    assert kms.create_grant(KeyId=mac, GranteePrincipal=principal, Operations=["GenerateMac", "VerifyMac"])[
        "GrantId"
    ]


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_sign_and_verify_with_openssl(server, kms, tmp_path: Path):
    """The AWS CLI signs; OpenSSL verifies with the public key the CLI exported."""
    key_id = key_of(kms, "RSA_2048", "SIGN_VERIFY")
    env = aws_env(server)

    def aws(*args: str) -> dict[str, Any]:
        command = ["aws", "kms", *args, "--output", "json"]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    message = tmp_path / "message"
    message.write_bytes(b"released by the pipeline")
    signed = aws(
        "sign", "--key-id", key_id, "--message", f"fileb://{message}",
        "--message-type", "RAW", "--signing-algorithm", "RSASSA_PSS_SHA_256",
    )  # fmt: skip
    (tmp_path / "signature").write_bytes(base64.b64decode(signed["Signature"]))
    (tmp_path / "public.der").write_bytes(
        base64.b64decode(aws("get-public-key", "--key-id", key_id)["PublicKey"])
    )
    result = subprocess.run(
        [
            "openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
            "-verify", str(tmp_path / "public.der"), "-keyform", "DER",
            "-signature", str(tmp_path / "signature"), str(message),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr
    verified = aws(
        "verify", "--key-id", key_id, "--message", f"fileb://{message}", "--message-type", "RAW",
        "--signing-algorithm", "RSASSA_PSS_SHA_256", "--signature", f"fileb://{tmp_path / 'signature'}",
    )  # fmt: skip
    assert verified["SignatureValid"] is True
