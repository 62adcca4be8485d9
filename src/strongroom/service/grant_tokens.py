"""Grant tokens: issued and checked under one server key, kept wrapped in the metadata store.

Why this exists
---------------
A grant token proves, before every worker's cache knows a new grant, that the server created that grant
(digest section 8.2), so it must be unforgeable: each token carries an HMAC-SHA256 tag
(:func:`strongroom.domain.grants.new_grant_token`). The key of that HMAC must be the same in every worker
process, on every start, and on every node that shares the database, so it is one random 32-byte key,
stored in the ``meta`` table wrapped under the root of trust (bound to the context
:data:`_WRAP_CONTEXT`). Nothing else about it is secret-dependent: the root key never leaves the
:class:`~strongroom.keystore.base.RootOfTrust`, which may later be an HSM.

The key is created by :func:`ensure_grant_token_key`, which ``strongroom.bootstrap.initialize`` runs
before any worker starts, and each worker again when it starts (outside any request, whose writes could
be rolled back), so requests only ever read it. Creating it never overwrites one: of two processes
racing to create it, the first one's is kept, and both read it back.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Final

from strongroom.domain.grants import grant_id_from_token, new_grant_token
from strongroom.keystore.base import RootOfTrust
from strongroom.storage.base import MetadataStore

__all__ = ["GRANT_TOKEN_KEY_META", "GrantTokens", "ensure_grant_token_key"]

#: The ``meta`` row holding the wrapped key (base64 of the root of trust's wrapped blob).
GRANT_TOKEN_KEY_META: Final = "grant_token_key"
_WRAP_CONTEXT: Final = b"strongroom grant token key\x00v1"
_KEY_BYTES: Final = 32


def ensure_grant_token_key(
    store: MetadataStore, root: RootOfTrust, random_bytes: Callable[[int], bytes]
) -> None:
    """Create the grant-token key if the store has none (idempotent)."""
    if store.get_meta(GRANT_TOKEN_KEY_META) is None:
        wrapped = root.wrap(random_bytes(_KEY_BYTES), _WRAP_CONTEXT)
        store.add_meta(GRANT_TOKEN_KEY_META, base64.b64encode(wrapped).decode("ascii"))


def _load_key(store: MetadataStore, root: RootOfTrust, random_bytes: Callable[[int], bytes]) -> bytes:
    ensure_grant_token_key(store, root, random_bytes)
    stored = store.get_meta(GRANT_TOKEN_KEY_META)
    assert stored is not None
    return root.unwrap(base64.b64decode(stored), _WRAP_CONTEXT)


class GrantTokens:
    """Makes and reads grant tokens; the key is unwrapped once per process, on first use."""

    __slots__ = ("_key", "_lock", "_random", "_root", "_store")

    def __init__(self, store: MetadataStore, root: RootOfTrust, random_bytes: Callable[[int], bytes]) -> None:
        self._store = store
        self._root = root
        self._random = random_bytes
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = _load_key(self._store, self._root, self._random)
                key = self._key
        return key

    def issue(self, grant_id: str) -> str:
        """A new token for ``grant_id`` (a fresh nonce each call, so a different string each time)."""
        return new_grant_token(self._secret(), grant_id, self._random(16))

    def grant_id(self, token: str) -> str | None:
        """The grant id ``token`` names, or None for anything this server did not issue."""
        return grant_id_from_token(self._secret(), token)
