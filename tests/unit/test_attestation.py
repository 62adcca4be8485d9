"""CiphertextForRecipient's layout, field by field, as the AWS Nitro Enclaves SDK parser expects it."""

from __future__ import annotations

import hashlib

from asn1crypto import cms, keys
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from strongroom.domain.attestation import envelope_for_recipient


def test_cms_enveloped_data_layout_and_content() -> None:
    enclave = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    envelope = cms.ContentInfo.load(envelope_for_recipient(b"the secret", enclave.public_key()))
    assert envelope["content_type"].native == "enveloped_data"
    enveloped = envelope["content"]
    assert enveloped["version"].native == "v2" and len(enveloped["recipient_infos"]) == 1
    recipient = enveloped["recipient_infos"][0].chosen
    assert recipient["version"].native == "v2"
    spki = enclave.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected_identifier = hashlib.sha1(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]).digest()
    assert recipient["rid"].name == "subject_key_identifier"
    assert recipient["rid"].chosen.native == expected_identifier
    algorithm = recipient["key_encryption_algorithm"]
    assert algorithm["algorithm"].native == "rsaes_oaep"
    assert algorithm["parameters"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert algorithm["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"].native == "sha256"
    content = enveloped["encrypted_content_info"]
    assert content["content_type"].native == "data"
    assert content["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    iv = content["content_encryption_algorithm"]["parameters"].native
    oaep = asymmetric_padding.OAEP(
        mgf=asymmetric_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )
    content_key = enclave.decrypt(recipient["encrypted_key"].native, oaep)
    decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(content["encrypted_content"].native) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == b"the secret"
