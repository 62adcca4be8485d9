"""Access keys for SigV4: stored with the secret wrapped under the root of trust, cached per worker."""

from __future__ import annotations

import secrets
import string
import time

from strongroom.keystore.base import RootOfTrust
from strongroom.protocol.sigv4 import Credential
from strongroom.service.cache_stats import CacheStats
from strongroom.storage.base import AccessKeyRecord, Change, ChangeKind, MetadataStore

__all__ = ["CredentialStore", "generate_access_key_pair"]

_AKID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def generate_access_key_pair() -> tuple[str, str]:
    """An AWS-shaped pair: ``AKIA`` + 16 characters, and a 40-character secret."""
    access_key_id = "AKIA" + "".join(secrets.choice(_AKID_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    return access_key_id, secret


def _wrap_context(access_key_id: str) -> bytes:
    return b"strongroom access key\x00" + access_key_id.encode()


class CredentialStore:
    """Implements :class:`strongroom.protocol.sigv4.CredentialLookup` over the metadata store."""

    def __init__(self, store: MetadataStore, root: RootOfTrust, stats: CacheStats | None = None) -> None:
        self._store = store
        self._root = root
        self._stats = stats or CacheStats()
        self._cache: dict[str, Credential | None] = {}

    def get(self, access_key_id: str) -> Credential | None:
        try:
            credential = self._cache[access_key_id]
            self._stats.count("credential", True)
            return credential
        except KeyError:
            self._stats.count("credential", False)
        record = self._store.get_access_key(access_key_id)
        credential = None
        if record is not None:
            secret = self._root.unwrap(record.wrapped_secret, _wrap_context(access_key_id)).decode()
            credential = Credential(access_key_id, secret, record.account_id, record.principal_arn)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[access_key_id] = credential
        return credential

    def put(self, access_key_id: str, secret: str, account_id: str, principal_arn: str) -> None:
        wrapped = self._root.wrap(secret.encode(), _wrap_context(access_key_id))
        self._store.put_access_key(
            AccessKeyRecord(access_key_id, wrapped, account_id, principal_arn, time.time())
        )
        self._cache.pop(access_key_id, None)

    def on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.ACCESS_KEY:
            self._cache.pop(change.name, None)

    def flush(self) -> None:
        self._cache.clear()
