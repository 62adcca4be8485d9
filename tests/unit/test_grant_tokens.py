"""Grant tokens are unforgeable: an HMAC tag under a per-deployment key, stored wrapped in the database."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from strongroom.domain.grants import TOKEN_LENGTH, grant_id_from_token, new_grant_token
from strongroom.keystore.file import FileRootOfTrust
from strongroom.service.grant_tokens import GRANT_TOKEN_KEY_META, GrantTokens, ensure_grant_token_key
from strongroom.storage.sqlite import SqliteStore

KEY = bytes(range(32))
GRANT_ID = "ab" * 32
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def token() -> str:
    return new_grant_token(KEY, GRANT_ID, bytes(range(16)))


def test_a_token_names_its_grant_and_is_opaque_base64() -> None:
    made = token()
    assert len(made) == TOKEN_LENGTH == 108 and set(made) <= set(ALPHABET)
    assert grant_id_from_token(KEY, made) == GRANT_ID
    assert GRANT_ID not in made  # nothing readable; the id is only base64 inside
    # Tokens for one grant differ with the nonce and all name it.
    other = new_grant_token(KEY, GRANT_ID, b"\xff" * 16)
    assert other != made and grant_id_from_token(KEY, other) == GRANT_ID


def test_every_single_character_change_is_refused() -> None:
    made = token()
    for position, original in enumerate(made):
        for replacement in ALPHABET:
            if replacement != original:
                tampered = made[:position] + replacement + made[position + 1 :]
                assert grant_id_from_token(KEY, tampered) is None, (position, replacement)


def test_every_bit_flip_of_the_bytes_is_refused() -> None:
    raw = base64.urlsafe_b64decode(token())
    for index in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[index] ^= 1 << bit
            forged = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
            assert grant_id_from_token(KEY, forged) is None, (index, bit)


def test_forgeries_without_the_key_are_refused() -> None:
    made = token()
    raw = base64.urlsafe_b64decode(made)
    zero_nonce_v1 = base64.urlsafe_b64encode(b"\x01" + bytes.fromhex(GRANT_ID) + bytes(16)).decode()
    other_id = base64.urlsafe_b64encode(raw[:1] + b"\xcd" * 32 + raw[33:]).decode()
    for forged in (
        zero_nonce_v1.rstrip("="),  # the old, unauthenticated format: id and a zero nonce
        other_id.rstrip("="),  # a real tag moved onto another grant id
        made[:-1],
        made + "A",
        made + "==",
        made[:-4] + "AA==",
        made[:50] + "!" + made[51:],  # outside the alphabet: base64 decoders would skip it
        made[:50] + "+" + made[51:],  # the standard alphabet's spelling of '-'
        made[:50] + "é" + made[51:],
        "",
        "A" * TOKEN_LENGTH,
    ):
        assert grant_id_from_token(KEY, forged) is None, forged
    assert grant_id_from_token(os.urandom(32), made) is None, "another deployment's key"


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "db")


def test_the_key_is_stored_wrapped_and_shared(store: SqliteStore) -> None:
    root = FileRootOfTrust(os.urandom(32))
    ensure_grant_token_key(store, root, os.urandom)
    stored = store.get_meta(GRANT_TOKEN_KEY_META)
    assert stored is not None
    ensure_grant_token_key(store, root, os.urandom)
    assert store.get_meta(GRANT_TOKEN_KEY_META) == stored, "created once, never replaced"
    # Two workers (or a restart) read the same key: one's tokens are the other's.
    first, second = GrantTokens(store, root, os.urandom), GrantTokens(store, root, os.urandom)
    issued = first.issue(GRANT_ID)
    assert second.grant_id(issued) == GRANT_ID
    assert first.issue(GRANT_ID) != issued
    # The secret never sits in the store in the clear.
    secret = first._secret()
    assert secret.hex() not in stored and base64.b64encode(secret).decode() not in stored


def test_a_store_without_a_key_gets_one_on_first_use(store: SqliteStore) -> None:
    root = FileRootOfTrust(os.urandom(32))
    tokens = GrantTokens(store, root, os.urandom)
    assert tokens.grant_id(tokens.issue(GRANT_ID)) == GRANT_ID
    assert store.get_meta(GRANT_TOKEN_KEY_META) is not None


def test_a_key_wrapped_under_another_root_does_not_unwrap(store: SqliteStore) -> None:
    from strongroom.keystore.base import WrappingError

    ensure_grant_token_key(store, FileRootOfTrust(os.urandom(32)), os.urandom)
    with pytest.raises(WrappingError):
        GrantTokens(store, FileRootOfTrust(os.urandom(32)), os.urandom).issue(GRANT_ID)
