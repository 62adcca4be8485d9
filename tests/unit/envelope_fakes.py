"""An in-process stand-in for a boto3 KMS client, for unit tests of strongroom.envelope.

It binds each ciphertext to its key and encryption context with AES-GCM, refuses unknown keys the way KMS
does (by raising), resolves ``alias/`` names, and counts calls, so tests can see what the library asked.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ARN_PREFIX = "arn:aws:kms:us-east-1:111122223333:key/"


class FakeKmsError(Exception):
    pass


class FakeKms:
    def __init__(self, *names: str) -> None:
        self.keys = {ARN_PREFIX + name: AESGCM(os.urandom(32)) for name in names}
        self.calls: Counter[str] = Counter()

    def arn(self, name: str) -> str:
        return ARN_PREFIX + name

    def _resolve(self, key_id: str) -> str:
        if key_id.startswith("alias/"):
            key_id = key_id[len("alias/") :]
        arn = key_id if key_id.startswith("arn:") else ARN_PREFIX + key_id
        if arn not in self.keys:
            raise FakeKmsError(f"NotFoundException: Key '{key_id}' does not exist")
        return arn

    def _seal(self, arn: str, plaintext: bytes, context: dict[str, str]) -> bytes:
        nonce = os.urandom(12)
        aad = arn.encode() + json.dumps(context, sort_keys=True).encode()
        return (
            len(arn).to_bytes(2, "big") + arn.encode() + nonce + self.keys[arn].encrypt(nonce, plaintext, aad)
        )

    def generate_data_key(self, *, KeyId: str, NumberOfBytes: int, EncryptionContext: dict[str, str]) -> Any:
        self.calls["GenerateDataKey"] += 1
        arn = self._resolve(KeyId)
        plaintext = os.urandom(NumberOfBytes)
        return {
            "KeyId": arn,
            "Plaintext": plaintext,
            "CiphertextBlob": self._seal(arn, plaintext, EncryptionContext),
        }

    def encrypt(self, *, KeyId: str, Plaintext: bytes, EncryptionContext: dict[str, str]) -> Any:
        self.calls["Encrypt"] += 1
        arn = self._resolve(KeyId)
        return {"KeyId": arn, "CiphertextBlob": self._seal(arn, Plaintext, EncryptionContext)}

    def decrypt(self, *, CiphertextBlob: bytes, KeyId: str, EncryptionContext: dict[str, str]) -> Any:
        self.calls["Decrypt"] += 1
        length = int.from_bytes(CiphertextBlob[:2], "big")
        arn = CiphertextBlob[2 : 2 + length].decode(errors="replace")
        if arn != self._resolve(KeyId):
            raise FakeKmsError("IncorrectKeyException")
        nonce, sealed = CiphertextBlob[2 + length : 14 + length], CiphertextBlob[14 + length :]
        aad = arn.encode() + json.dumps(EncryptionContext, sort_keys=True).encode()
        try:
            return {"KeyId": arn, "Plaintext": self.keys[arn].decrypt(nonce, sealed, aad)}
        except InvalidTag:
            raise FakeKmsError("InvalidCiphertextException") from None

    def describe_key(self, *, KeyId: str) -> Any:
        self.calls["DescribeKey"] += 1
        return {"KeyMetadata": {"Arn": self._resolve(KeyId)}}
