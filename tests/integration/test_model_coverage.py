"""Everything the shipped KMS model admits, over HTTP with boto3: no answer is a 5xx.

Validation admits every operation and enum value of the model Strongroom ships, including the ones it does
not implement (key rotation and imported material, ML_KEM_512, SM2 outside China). Each must answer 200
or a 4xx AWS JSON error, and an unimplemented one must be UnsupportedOperationException naming the
value. The boto3 client is built from the shipped model (not the installed botocore's), so it can call
every operation whatever botocore is installed; ``parameter_validation=False`` sends exactly what is asked.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from strongroom.domain import ml_kem
from strongroom.domain.asymmetric import KEY_PAIR_SPECS
from strongroom.domain.keys import KeySpec, KeyUsage
from strongroom.domain.ml_kem import ML_KEM_SPECS
from strongroom.operations.registry import CATALOG
from strongroom.protocol.model import KMS_MODEL_FILE, load_kms_model
from tests.conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, REGION, RunningServer, start_server

MODEL = load_kms_model()
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


def values(shape: str) -> list[str]:
    """The enum values of one of the shipped model's shapes, in the model's order."""
    return list(MODEL.shape(shape)["enum"])


@dataclass(frozen=True)
class Answer:
    status: int
    code: str = ""
    message: str = ""

    @property
    def sound(self) -> bool:
        """200, or a 4xx whose body is an AWS JSON error (botocore found its ``__type``)."""
        return self.status == 200 or (400 <= self.status < 500 and self.code not in ("", str(self.status)))


def answer(call: Callable[..., Any], **params: Any) -> Answer:
    try:
        call(**params)
    except ClientError as error:
        response = error.response
        return Answer(
            response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"].get("Code", ""),
            response["Error"].get("Message", ""),
        )
    return Answer(200)


class Probes:
    """Calls and their answers, so that one test reports every unsound answer at once."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, Answer]] = []

    def __call__(self, call: Callable[..., Any], **params: Any) -> Answer:
        result = answer(call, **params)
        self.answers.append((f"{call.__name__}({params})", result))
        return result

    def assert_sound(self) -> None:
        unsound = [f"{what} -> {result}" for what, result in self.answers if not result.sound]
        assert not unsound, "\n".join(unsound)


def assert_unsupported(result: Answer, value: str) -> None:
    assert result.code == "UnsupportedOperationException", result
    assert value in result.message, result


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own: these probes create some thirty keys."""
    running = start_server(tmp_path_factory.mktemp("coverage") / "data", "--account-id", ACCOUNT_ID)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kms(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A boto3 KMS client whose model is Strongroom's shipped one, put first on botocore's data path."""
    models = tmp_path_factory.mktemp("models")
    folder = Path(models, "kms", "2014-11-01")
    folder.mkdir(parents=True)
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
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


def test_the_client_speaks_the_shipped_model(kms: Any) -> None:
    assert set(kms.meta.service_model.operation_names) == set(MODEL.operation_names)


def test_create_key_with_every_spec_usage_and_origin(kms: Any) -> None:
    probe = Probes()
    implemented_specs = {spec.value for spec in KeySpec}
    implemented_usages = {usage.value for usage in KeyUsage}
    for spec in values("KeySpec"):
        alone = probe(kms.create_key, KeySpec=spec)
        if spec not in implemented_specs:
            assert_unsupported(alone, spec)
        for usage in values("KeyUsageType"):
            paired = probe(kms.create_key, KeySpec=spec, KeyUsage=usage)
            if spec not in implemented_specs:
                assert_unsupported(paired, spec)
    for spec in values("CustomerMasterKeySpec"):
        probe(kms.create_key, CustomerMasterKeySpec=spec)
    for usage in values("KeyUsageType"):
        alone = probe(kms.create_key, KeyUsage=usage)
        if usage not in implemented_usages:
            assert_unsupported(alone, usage)
    for origin in values("OriginType"):
        probe(kms.create_key, Origin=origin)
    # a valid pair Strongroom cannot make (ML_KEM_512 always; the others without ML-KEM in cryptography)
    for spec in sorted(s for s in ML_KEM_SPECS if not ml_kem.available(s)):
        assert_unsupported(probe(kms.create_key, KeySpec=spec, KeyUsage="ENCAPSULATE_DECAPSULATE"), spec)
    probe.assert_sound()
    assert any(result.status == 200 for _, result in probe.answers)


@pytest.mark.parametrize("operation", ["GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"])
def test_generate_data_key_pair_with_every_pair_spec(kms: Any, operation: str) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    call = getattr(kms, xform_name(operation))
    generated = {spec.value for spec in KEY_PAIR_SPECS if spec not in ML_KEM_SPECS or ml_kem.available(spec)}
    probe = Probes()
    for spec in values("DataKeyPairSpec"):
        result = probe(call, KeyId=key_id, KeyPairSpec=spec)
        if spec in generated:
            assert result.status == 200, (spec, result)
        else:  # SM2 (China only), ML_KEM_512, ML-KEM without a library that has it
            assert_unsupported(result, spec)
    probe.assert_sound()


def test_every_other_enum_value_on_a_key_it_fits(kms: Any) -> None:
    """The algorithm, message type, data key spec, grant operation and resource owner enums."""
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    agreeing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    peer_der = peer.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    probe = Probes()
    for algorithm in values("EncryptionAlgorithmSpec"):
        probe(kms.encrypt, KeyId=symmetric, Plaintext=b"x", EncryptionAlgorithm=algorithm)
    for spec in values("DataKeySpec"):
        probe(kms.generate_data_key, KeyId=symmetric, KeySpec=spec)
    for algorithm in values("SigningAlgorithmSpec"):
        for message_type in values("MessageType"):
            message = hashlib.sha256(b"m").digest() if message_type == "DIGEST" else b"m"
            probe(
                kms.sign, KeyId=signing, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
            )
    for algorithm in values("MacAlgorithmSpec"):
        probe(kms.generate_mac, KeyId=mac, Message=b"m", MacAlgorithm=algorithm)
    for algorithm in values("KeyAgreementAlgorithmSpec"):
        probe(kms.derive_shared_secret, KeyId=agreeing, KeyAgreementAlgorithm=algorithm, PublicKey=peer_der)
    for operation in values("GrantOperation"):
        probe(kms.create_grant, KeyId=symmetric, GranteePrincipal=ROOT, Operations=[operation])
    for owner in values("ResourceOwnerType"):
        probe(kms.list_keys, ResourceOwners=[owner])
    if ml_kem.available(KeySpec.ML_KEM_768):
        kem = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
        for algorithm in values("EncapsulationAlgorithmSpec"):
            made = probe(kms.encapsulate, KeyId=kem, EncapsulationAlgorithm=algorithm)
            assert made.status == 200, made
            blob = bytes(1088)
            probe(
                kms.decapsulate, KeyId=kem, EncapsulationAlgorithm=algorithm, SharedSecretCiphertextBlob=blob
            )
        for operation in values("GrantOperation"):
            probe(kms.create_grant, KeyId=kem, GranteePrincipal=ROOT, Operations=[operation])
    probe.assert_sound()


def test_list_keys_shared_through_ram_is_empty(kms: Any) -> None:
    kms.create_key()
    assert kms.list_keys(ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])["Keys"] == []
    assert kms.list_keys(ResourceOwners=["SELF"])["Keys"] == kms.list_keys()["Keys"] != []


@pytest.mark.parametrize("operation", sorted(MODEL.operation_names))
def test_every_operation_answers_an_empty_body(kms: Any, operation: str) -> None:
    result = answer(getattr(kms, xform_name(operation)))
    assert result.sound, result


def test_unimplemented_operations_are_unsupported(kms: Any) -> None:
    """Each operation the model has and Strongroom does not declare, called with just a key, answers
    UnsupportedOperationException naming it."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    called = 0
    for operation in sorted(MODEL.operation_names - set(CATALOG.operations)):
        shape = MODEL.input_shape_name(operation)
        required = set(MODEL.shape(shape).get("required", ())) if shape else set()
        if required <= {"KeyId"}:
            assert_unsupported(answer(getattr(kms, xform_name(operation)), KeyId=key_id), operation)
            called += 1
    assert called or not MODEL.operation_names - set(CATALOG.operations)


def test_encapsulation_with_a_key_of_another_usage(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = base64.b64decode("AAAA")
    assert answer(kms.encapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM").code == (
        "InvalidKeyUsageException"
    )
    result = answer(
        kms.decapsulate, KeyId=key_id, EncapsulationAlgorithm="ML_KEM", SharedSecretCiphertextBlob=blob
    )
    assert result.code == "InvalidKeyUsageException"
