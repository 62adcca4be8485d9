"""``Recipient`` (Nitro Enclaves attestation) over HTTP with boto3, against a server that trusts the tests'
own root: the secret comes back only as ``CiphertextForRecipient``, which ``openssl cms -decrypt`` opens
with the enclave's private key; forged, expired, stale, tampered and untrusted documents are refused and
release nothing; and ``kms:RecipientAttestation:*`` conditions apply."""

from __future__ import annotations

import datetime
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from strongroom.domain.attestation import AWS_NITRO_ROOT_PEM
from tests.conftest import ACCOUNT_ID, RunningServer, aws_error, start_server

NOW = datetime.datetime.now(datetime.UTC)
PCR0 = bytes(range(48))


def certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None,
    *,
    days: tuple[int, int] = (-1, 30),
    ca: bool = True,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]) if issuer else subject
    signer = issuer[1] if issuer else key
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + datetime.timedelta(days=days[0]))
        .not_valid_after(NOW + datetime.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA384())
    )


class Enclave:
    """A test CA (root, intermediate, signing certificate) and an enclave RSA key."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.root = certificate("test-nitro-root", self.root_key)
        self.intermediate_key = ec.generate_private_key(ec.SECP384R1())
        self.intermediate = certificate(
            "test-intermediate", self.intermediate_key, ("test-nitro-root", self.root_key)
        )
        self.leaf_key = ec.generate_private_key(ec.SECP384R1())
        self.leaf = certificate(
            "test-enclave", self.leaf_key, ("test-intermediate", self.intermediate_key), ca=False
        )
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def document(
        self,
        *,
        pcr0: bytes = PCR0,
        age_seconds: float = 0.0,
        leaf: x509.Certificate | None = None,
        signer: ec.EllipticCurvePrivateKey | None = None,
        bundle: list[x509.Certificate] | None = None,
        tamper: bool = False,
        tagged: bool = False,
    ) -> bytes:
        payload_fields = {
            "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
            "digest": "SHA384",
            "timestamp": int((time.time() - age_seconds) * 1000),
            "pcrs": {0: pcr0, 1: bytes(48), 2: bytes([7]) * 48},
            "certificate": (leaf or self.leaf).public_bytes(serialization.Encoding.DER),
            "cabundle": [
                c.public_bytes(serialization.Encoding.DER) for c in (bundle or [self.root, self.intermediate])
            ],
            "public_key": self.rsa.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            "user_data": None,
            "nonce": None,
        }
        protected = cbor2.dumps({1: -35})
        payload = cbor2.dumps(payload_fields)
        der = (signer or self.leaf_key).sign(
            cbor2.dumps(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA384())
        )
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
        if tamper:
            payload_fields["pcrs"] = {0: bytes(48)}
            payload = cbor2.dumps(payload_fields)
        structure: Any = [protected, {}, payload, signature]
        return cbor2.dumps(cbor2.CBORTag(18, structure) if tagged else structure)

    def recipient(self, document: bytes | None = None) -> dict[str, Any]:
        return {
            "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            "AttestationDocument": document or self.document(),
        }

    def open(self, envelope: bytes, tmp_path: Path) -> bytes:
        """``openssl cms -decrypt`` with the enclave's private key."""
        key_file, message = tmp_path / "enclave.pem", tmp_path / "envelope.der"
        key_file.write_bytes(
            self.rsa.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        message.write_bytes(envelope)
        result = subprocess.run(
            ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(message), "-inkey", str(key_file)],
            capture_output=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout


@pytest.fixture(scope="module")
def enclave() -> Enclave:
    return Enclave()


@pytest.fixture(scope="module")
def nitro(tmp_path_factory: pytest.TempPathFactory, enclave: Enclave) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("nitro")
    roots = directory / "roots.pem"
    roots.write_bytes(enclave.root.public_bytes(serialization.Encoding.PEM))
    server = start_server(directory / "data", "--attestation-roots", str(roots))
    yield server
    server.stop()


def test_the_built_in_root_is_the_aws_nitro_root() -> None:
    root = x509.load_pem_x509_certificate(AWS_NITRO_ROOT_PEM)
    assert (
        root.fingerprint(hashes.SHA256()).hex()
        == "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    )


def test_secrets_go_only_to_the_enclave(nitro: RunningServer, enclave: Enclave, tmp_path: Path) -> None:
    kms: Any = nitro.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    generated = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", Recipient=enclave.recipient())
    assert "Plaintext" not in generated and "KeyMaterialId" not in generated
    data_key = enclave.open(generated["CiphertextForRecipient"], tmp_path)
    assert len(data_key) == 32
    assert kms.decrypt(CiphertextBlob=generated["CiphertextBlob"])["Plaintext"] == data_key

    blob = kms.encrypt(KeyId=key_id, Plaintext=b"for the enclave")["CiphertextBlob"]
    tagged = enclave.recipient(enclave.document(tagged=True))
    decrypted = kms.decrypt(CiphertextBlob=blob, Recipient=tagged)
    assert "Plaintext" not in decrypted and decrypted["KeyId"].endswith(key_id)
    assert enclave.open(decrypted["CiphertextForRecipient"], tmp_path) == b"for the enclave"

    random = kms.generate_random(NumberOfBytes=24, Recipient=enclave.recipient())
    assert "Plaintext" not in random and len(enclave.open(random["CiphertextForRecipient"], tmp_path)) == 24

    pair = kms.generate_data_key_pair(
        KeyId=key_id, KeyPairSpec="ECC_NIST_P256", Recipient=enclave.recipient()
    )
    assert "PrivateKeyPlaintext" not in pair
    private = serialization.load_der_private_key(enclave.open(pair["CiphertextForRecipient"], tmp_path), None)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pair["PublicKey"]
    )

    agreement = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    peer = ec.generate_private_key(ec.SECP384R1())
    peer_der = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    derived = kms.derive_shared_secret(
        KeyId=agreement, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der, Recipient=enclave.recipient()
    )
    assert "SharedSecret" not in derived
    kms_public = serialization.load_der_public_key(kms.get_public_key(KeyId=agreement)["PublicKey"])
    assert enclave.open(derived["CiphertextForRecipient"], tmp_path) == peer.exchange(ec.ECDH(), kms_public)


def test_documents_that_fail_a_check_release_nothing(nitro: RunningServer, enclave: Enclave) -> None:
    kms: Any = nitro.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    stranger = ec.generate_private_key(ec.SECP384R1())
    expired_leaf = certificate(
        "test-enclave",
        enclave.leaf_key,
        ("test-intermediate", enclave.intermediate_key),
        days=(-10, -1),
        ca=False,
    )
    other_root_key = ec.generate_private_key(ec.SECP384R1())
    other_root = certificate("test-nitro-root", other_root_key)
    aws_root = x509.load_pem_x509_certificate(AWS_NITRO_ROOT_PEM)
    cases = {
        "its signature does not verify": enclave.document(signer=stranger),
        "is not valid now": enclave.document(leaf=expired_leaf),
        "older than five minutes": enclave.document(age_seconds=600),
        "in the future": enclave.document(age_seconds=-600),
        "signature does not verify (tampered)": enclave.document(tamper=True),
        "does not start at a trusted root": enclave.document(bundle=[aws_root, enclave.intermediate]),
        "is not signed by its issuer": enclave.document(
            bundle=[enclave.root, certificate("x", other_root_key)]
        ),
        "not CBOR": b"\xff\x00 not an attestation document",
        "not a COSE_Sign1 structure": cbor2.dumps([1, 2, 3]),
    }
    del other_root
    for expected, document in cases.items():
        code, message, status = aws_error(
            kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", Recipient=enclave.recipient(document)
        )
        assert (code, status) == ("ValidationException", 400), (expected, code, message)
        assert message.startswith("The attestation document in Recipient is not valid: ")
        assert expected.split(" (")[0] in message, (expected, message)


def test_attestation_conditions_in_a_key_policy(
    nitro: RunningServer, enclave: Enclave, tmp_path: Path
) -> None:
    kms: Any = nitro.client()
    root = f"arn:aws:iam::{ACCOUNT_ID}:root"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "admin",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "only the measured image decrypts",
                "Effect": "Deny",
                "Principal": {"AWS": root},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"kms:RecipientAttestation:ImageSha384": PCR0.hex()}},
            },
        ],
    }
    key_id = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"measured")["CiphertextBlob"]
    opened = kms.decrypt(CiphertextBlob=blob, Recipient=enclave.recipient())
    assert enclave.open(opened["CiphertextForRecipient"], tmp_path) == b"measured"
    other_image = enclave.recipient(enclave.document(pcr0=bytes(48)))
    assert aws_error(kms.decrypt, CiphertextBlob=blob, Recipient=other_image)[0] == "AccessDeniedException"
    assert aws_error(kms.decrypt, CiphertextBlob=blob)[0] == "AccessDeniedException"  # no document: no match
