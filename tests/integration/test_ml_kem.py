"""ML-KEM keys over HTTP with boto3: CreateKey, DescribeKey, GetPublicKey, Encapsulate, Decapsulate and
ML-KEM data key pairs, each checked on the client side with pyca ``cryptography``: the client encapsulates
with the public key from GetPublicKey and the server's Decapsulate must give the same secret; a data key
pair's private key decapsulates what the client encapsulated to its public key.

The boto3 client is built from Strongroom's shipped model, so it knows Encapsulate and Decapsulate
whatever botocore is installed. The tests that need ML-KEM skip, saying why, where the installed
cryptography lacks it; ``test_without_ml_kem_the_specs_are_unsupported`` runs everywhere (it takes ML-KEM
away from a server of its own).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from cryptography.hazmat.primitives import serialization

from strongroom.domain import ml_kem
from strongroom.domain.keys import KeySpec
from strongroom.protocol.model import KMS_MODEL_FILE
from tests.conftest import (
    ACCOUNT_ID,
    ADMIN_ACCESS_KEY,
    ADMIN_SECRET_KEY,
    REGION,
    RunningServer,
    aws_error,
    start_server,
)

needs_ml_kem = pytest.mark.skipif(
    not ml_kem.available(KeySpec.ML_KEM_768),
    reason="the installed cryptography has no ML-KEM (needs a recent pyca/cryptography, e.g. 50)",
)
SPECS = ["ML_KEM_768", "ML_KEM_1024"]
CIPHERTEXT_LENGTH = {"ML_KEM_768": 1088, "ML_KEM_1024": 1568}
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"

# Loaded first by a server started with it on its path: its cryptography then has the ML-KEM classes but
# cannot make a key, as one built against an OpenSSL without ML-KEM (pyca's own modules import the
# mlkem module, so blocking the import would stop cryptography itself from loading).
BLOCKER = """
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import mlkem


def _refuse(*args, **kwargs):
    raise UnsupportedAlgorithm("ML-KEM is blocked for this test")


for _class in (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey):
    _class.generate = staticmethod(_refuse)
"""


def shipped_model_client(server: RunningServer, models: Path) -> Any:
    """A boto3 KMS client whose model is Strongroom's shipped one, put first on botocore's data path."""
    folder = Path(models, "kms", "2014-11-01")
    folder.mkdir(parents=True, exist_ok=True)
    shipped = resources.files("strongroom.protocol") / "data" / KMS_MODEL_FILE
    (folder / "service-2.json.gz").write_bytes(shipped.read_bytes())
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(models))
    return boto3.Session(botocore_session=session).client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ADMIN_ACCESS_KEY,
        aws_secret_access_key=ADMIN_SECRET_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("mlkem") / "data", "--account-id", ACCOUNT_ID)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kms(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return shipped_model_client(server, tmp_path_factory.mktemp("models"))


_KEYS: dict[str, str] = {}


def ml_kem_key(kms: Any, spec: str) -> str:
    if spec not in _KEYS:
        created = kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
        _KEYS[spec] = created["KeyMetadata"]["KeyId"]
    return _KEYS[spec]


@needs_ml_kem
@pytest.mark.parametrize("spec", SPECS)
def test_create_describe_and_get_public_key(kms: Any, spec: str) -> None:
    created = kms.create_key(KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]
    assert (created["KeySpec"], created["KeyUsage"]) == (spec, "ENCAPSULATE_DECAPSULATE")
    assert created["EncapsulationAlgorithms"] == ["ML_KEM"]
    for absent in ("EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms", "KeyAgreementAlgorithms"):
        assert absent not in created
    assert "CurrentKeyMaterialId" not in created  # as for every asymmetric key
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["EncapsulationAlgorithms"] == ["ML_KEM"]
    public = kms.get_public_key(KeyId=created["KeyId"])
    assert public["KeySpec"] == spec and public["KeyUsage"] == "ENCAPSULATE_DECAPSULATE"
    assert public["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert "SigningAlgorithms" not in public and "EncryptionAlgorithms" not in public
    loaded = serialization.load_der_public_key(public["PublicKey"])  # DER SubjectPublicKeyInfo
    assert type(loaded).__name__ == f"MLKEM{spec.removeprefix('ML_KEM_')}PublicKey"


@needs_ml_kem
@pytest.mark.parametrize("spec", SPECS)
def test_client_encapsulation_decapsulates_on_the_server(kms: Any, spec: str) -> None:
    key_id = ml_kem_key(kms, spec)
    public: Any = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    for _ in range(3):
        secret, ciphertext = public.encapsulate()
        assert len(ciphertext) == CIPHERTEXT_LENGTH[spec]
        answer = kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
        )
        assert answer["SharedSecret"] == secret
        assert answer["EncapsulationAlgorithm"] == "ML_KEM"
        assert answer["KeyId"].endswith(f":key/{key_id}")


@needs_ml_kem
@pytest.mark.parametrize("spec", SPECS)
def test_server_encapsulation_round_trips(kms: Any, spec: str) -> None:
    key_id = ml_kem_key(kms, spec)
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    alias = f"alias/mlkem-{spec.lower().replace('_', '-')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    secrets = set()
    for identifier in (key_id, arn, alias):
        made = kms.encapsulate(KeyId=identifier, EncapsulationAlgorithm="ML_KEM")
        assert made["KeyId"] == arn and made["EncapsulationAlgorithm"] == "ML_KEM"
        assert len(made["SharedSecret"]) == 32
        assert len(made["SharedSecretCiphertextBlob"]) == CIPHERTEXT_LENGTH[spec]
        back = kms.decapsulate(
            KeyId=identifier,
            SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
            EncapsulationAlgorithm="ML_KEM",
        )
        assert back["SharedSecret"] == made["SharedSecret"]
        secrets.add(made["SharedSecret"])
    assert len(secrets) == 3  # a fresh secret each time


@needs_ml_kem
def test_decapsulate_rejects_implicitly_and_refuses_only_a_wrong_length(kms: Any) -> None:
    """AWS's documented behaviour: InvalidCiphertextException only when the length does not fit the
    spec; otherwise a 32-byte pseudo-random value (FIPS 203 implicit rejection), deterministic per
    ciphertext."""
    key_id = ml_kem_key(kms, "ML_KEM_768")
    made = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    tampered = bytearray(made["SharedSecretCiphertextBlob"])
    tampered[100] ^= 1
    rejected = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=bytes(tampered), EncapsulationAlgorithm="ML_KEM"
    )
    assert len(rejected["SharedSecret"]) == 32 and rejected["SharedSecret"] != made["SharedSecret"]
    again = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=bytes(tampered), EncapsulationAlgorithm="ML_KEM"
    )
    assert again["SharedSecret"] == rejected["SharedSecret"]
    other = kms.encapsulate(KeyId=ml_kem_key(kms, "ML_KEM_1024"), EncapsulationAlgorithm="ML_KEM")
    for blob in (made["SharedSecretCiphertextBlob"][:-1], made["SharedSecretCiphertextBlob"] + b"\0", b"x",
                 other["SharedSecretCiphertextBlob"]):  # fmt: skip
        assert aws_error(
            kms.decapsulate, KeyId=key_id, SharedSecretCiphertextBlob=blob, EncapsulationAlgorithm="ML_KEM"
        ) == ("InvalidCiphertextException", "", 400)


@needs_ml_kem
def test_wrong_pairs_usages_states_and_dry_run(kms: Any) -> None:
    assert aws_error(kms.create_key, KeySpec="ML_KEM_768", KeyUsage="SIGN_VERIFY")[:2] == (
        "ValidationException",
        "KeyUsage SIGN_VERIFY is not compatible with KeySpec ML_KEM_768",
    )
    assert aws_error(kms.create_key, KeySpec="RSA_2048", KeyUsage="ENCAPSULATE_DECAPSULATE")[:2] == (
        "ValidationException",
        "KeyUsage ENCAPSULATE_DECAPSULATE is not compatible with KeySpec RSA_2048",
    )
    assert aws_error(kms.create_key, KeyUsage="ENCAPSULATE_DECAPSULATE")[:2] == (
        "ValidationException",
        "KeyUsage ENCAPSULATE_DECAPSULATE is not compatible with KeySpec SYMMETRIC_DEFAULT",
    )
    assert aws_error(kms.create_key, KeySpec="ML_KEM_1024")[:2] == (
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    )
    symmetric = kms.create_key()["KeyMetadata"]["Arn"]
    assert aws_error(kms.encapsulate, KeyId=symmetric, EncapsulationAlgorithm="ML_KEM")[:2] == (
        "InvalidKeyUsageException",
        f"{symmetric} key usage is ENCRYPT_DECRYPT which is not valid for Encapsulate.",
    )
    key_id = ml_kem_key(kms, "ML_KEM_768")
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert aws_error(kms.encrypt, KeyId=key_id, Plaintext=b"x")[0] == "InvalidKeyUsageException"
    assert aws_error(kms.sign, KeyId=key_id, Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256")[:2] == (
        "InvalidKeyUsageException",
        f"{arn} key usage is ENCAPSULATE_DECAPSULATE which is not valid for Sign.",
    )
    assert aws_error(kms.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM", DryRun=True)[0] == (
        "DryRunOperationException"
    )
    disabled = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=disabled)
    assert aws_error(kms.encapsulate, KeyId=disabled, EncapsulationAlgorithm="ML_KEM")[:2] == (
        "DisabledException",
        f"{disabled} is disabled.",
    )


@needs_ml_kem
@pytest.mark.parametrize("spec", SPECS)
def test_data_key_pairs(kms: Any, spec: str) -> None:
    """A seed-format PKCS#8 private key (the same length for every spec, as AWS documents), its
    SubjectPublicKeyInfo, and the private key sealed under the KMS key like a data key."""
    wrapping = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"purpose": "ml-kem pair"}
    pair = kms.generate_data_key_pair(KeyId=wrapping, KeyPairSpec=spec, EncryptionContext=context)
    assert pair["KeyPairSpec"] == spec
    assert len(pair["PrivateKeyPlaintext"]) == 86  # SEQUENCE { 0, AlgorithmIdentifier, [0] 64-byte seed }
    private: Any = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pair["PublicKey"]
    )
    public: Any = serialization.load_der_public_key(pair["PublicKey"])
    secret, ciphertext = public.encapsulate()
    assert private.decapsulate(ciphertext) == secret
    opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=wrapping, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in bare and bare["KeyPairSpec"] == spec
    sealed = kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert (
        serialization.load_der_private_key(sealed, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == bare["PublicKey"]
    )


def test_ml_kem_512_is_unsupported_naming_the_spec(kms: Any) -> None:
    """No maintained, constant-time ML-KEM-512 implementation is available (see domain/ml_kem.py)."""
    code, message, _ = aws_error(kms.create_key, KeySpec="ML_KEM_512", KeyUsage="ENCAPSULATE_DECAPSULATE")
    assert code == "UnsupportedOperationException" and message.startswith("KeySpec ML_KEM_512 ")
    wrapping = kms.create_key()["KeyMetadata"]["KeyId"]
    for call in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
        code, message, _ = aws_error(call, KeyId=wrapping, KeyPairSpec="ML_KEM_512")
        assert code == "UnsupportedOperationException" and message.startswith("KeyPairSpec ML_KEM_512 ")
    # the wrong pair is still the pair's ValidationException first, as for every spec
    assert aws_error(kms.create_key, KeySpec="ML_KEM_512", KeyUsage="SIGN_VERIFY")[0] == "ValidationException"


@needs_ml_kem
def test_grant_operations_on_an_ml_kem_key(kms: Any) -> None:
    key_id = ml_kem_key(kms, "ML_KEM_1024")
    allowed = ["Encapsulate", "Decapsulate", "GetPublicKey", "DescribeKey", "CreateGrant", "RetireGrant"]
    assert kms.create_grant(KeyId=key_id, GranteePrincipal=ROOT, Operations=allowed)["GrantId"]
    for refused in ("Sign", "Encrypt", "DeriveSharedSecret", "GenerateDataKeyPair"):
        assert aws_error(kms.create_grant, KeyId=key_id, GranteePrincipal=ROOT, Operations=[refused])[0] == (
            "ValidationException"
        )
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    assert aws_error(kms.create_grant, KeyId=symmetric, GranteePrincipal=ROOT, Operations=["Decapsulate"])[
        0
    ] == ("ValidationException")


@needs_ml_kem
def test_no_secret_or_ciphertext_reaches_the_audit_trail(kms: Any, server: RunningServer) -> None:
    key_id = ml_kem_key(kms, "ML_KEM_768")
    made = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    kms.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    pair = kms.generate_data_key_pair(
        KeyId=kms.create_key()["KeyMetadata"]["KeyId"], KeyPairSpec="ML_KEM_768"
    )
    trail = b"".join(p.read_bytes() for p in sorted((server.data_dir / "audit").glob("trail-*.jsonl")))
    assert b'"eventName":"Encapsulate"' in trail and b'"eventName":"Decapsulate"' in trail
    for secret in (made["SharedSecret"], made["SharedSecretCiphertextBlob"], pair["PrivateKeyPlaintext"]):
        for form in (base64.b64encode(secret), secret.hex().encode(), base64.b64encode(secret)[:24]):
            assert form not in trail


def test_without_ml_kem_the_specs_are_unsupported(tmp_path: Path) -> None:
    """A server whose cryptography cannot make ML-KEM keys (see BLOCKER) still starts, serves
    everything else, and answers UnsupportedOperationException naming each ML-KEM spec."""
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(tmp_path / "blocker"), os.environ.get("PYTHONPATH")) if p)
    running = start_server(tmp_path / "data", "--account-id", ACCOUNT_ID, env={"PYTHONPATH": path})
    try:
        kms = shipped_model_client(running, tmp_path / "models")
        for spec in ("ML_KEM_768", "ML_KEM_1024"):
            code, message, _ = aws_error(kms.create_key, KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE")
            assert code == "UnsupportedOperationException", message
            assert (
                message
                == f"KeySpec {spec} needs ML-KEM, which the installed cryptography library does not support."
            )
        symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
        code, message, _ = aws_error(kms.generate_data_key_pair, KeyId=symmetric, KeyPairSpec="ML_KEM_768")
        assert (code, message.split(" ")[:2]) == (
            "UnsupportedOperationException",
            ["KeyPairSpec", "ML_KEM_768"],
        )
        blob = kms.encrypt(KeyId=symmetric, Plaintext=b"still served")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still served"
        assert (
            kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeySpec"]
            == "ML_DSA_65"
        )
    finally:
        running.stop()
