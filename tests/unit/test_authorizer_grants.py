"""The authorizer's grant rules: tokens before the cache knows a grant, constraints, child grants."""

from __future__ import annotations

import pytest

from strongroom.clock import FixedClock
from strongroom.domain.grants import ChildGrant, Grant, GrantConstraints, grant_id_from_token, new_grant_token
from strongroom.domain.keys import KmsKey
from strongroom.errors import AccessDeniedException
from strongroom.service.authorization import Authorizer
from strongroom.service.keyring import Principal
from strongroom.storage.sqlite import SqliteStore

ACCOUNT = "111122223333"
KEY = KmsKey("1234abcd-12ab-34cd-56ef-1234567890ab", ACCOUNT, "us-east-1", 1.0)
GRANTEE = Principal(ACCOUNT, "us-east-1", f"arn:aws:iam::{ACCOUNT}:user/app")
TOKEN_KEY = bytes(range(32))
# A key policy that allows nothing to anyone but the root: only grants can let the grantee in.
ROOT_ONLY = (
    '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, '
    '"Action": "kms:PutKeyPolicy", "Resource": "*"}]}'
)


def grant(grant_id: str, operations: tuple[str, ...], constraints: GrantConstraints | None = None) -> Grant:
    return Grant(
        grant_id, KEY.region, KEY.key_id, None, GRANTEE.arn, None, operations, constraints, ACCOUNT, 2.0
    )


@pytest.fixture
def store(tmp_path) -> SqliteStore:  # type: ignore[no-untyped-def]
    store = SqliteStore(tmp_path / "db")
    store.insert_key(KEY, None)
    store.put_key_policy(KEY.region, KEY.key_id, ROOT_ONLY)
    return store


def allowed(auth: Authorizer, action: str, **kwargs) -> bool:  # type: ignore[no-untyped-def]
    try:
        auth.authorize_key(GRANTEE, action, KEY, {}, **kwargs)
    except AccessDeniedException:
        return False
    return True


def test_a_token_makes_a_grant_usable_before_the_cache_hears_of_it(store: SqliteStore) -> None:
    auth = Authorizer(store, FixedClock(10.0))
    assert not allowed(auth, "kms:Decrypt")  # caches "no grants on this key"
    fresh = grant("ab" * 32, ("Decrypt",))
    store.insert_grant(fresh)  # the change is in the log, but this worker has not refreshed
    assert not allowed(auth, "kms:Decrypt"), "without the token, the stale cache decides"
    token = new_grant_token(TOKEN_KEY, fresh.grant_id, b"\x00" * 16)
    assert grant_id_from_token(TOKEN_KEY, token) == fresh.grant_id
    assert allowed(auth, "kms:Decrypt", grant_ids=[fresh.grant_id])
    assert not allowed(auth, "kms:Encrypt", grant_ids=[fresh.grant_id]), "only the grant's operations"
    auth.flush()  # what a refresh does once the change arrives
    assert allowed(auth, "kms:Decrypt")


def test_tokens_are_ours_or_nothing() -> None:
    token = new_grant_token(TOKEN_KEY, "cd" * 32, bytes(range(16)))
    assert grant_id_from_token(TOKEN_KEY, token) == "cd" * 32
    for bad in ("", "x", token[:-2], "B" + token[1:], token + "AAAA", "!!!!"):
        assert grant_id_from_token(TOKEN_KEY, bad) is None, bad
    assert grant_id_from_token(b"\x01" * 32, token) is None, "another server's key"


@pytest.mark.parametrize(
    ("constraints", "context", "expected"),
    [
        (GrantConstraints(equals=(("a", "1"),)), {"a": "1"}, True),
        (GrantConstraints(equals=(("a", "1"),)), {"a": "1", "b": "2"}, False),
        (GrantConstraints(equals=(("a", "1"),)), {}, False),
        (GrantConstraints(equals=()), {}, True),
        (GrantConstraints(subset=(("a", "1"),)), {"a": "1", "b": "2"}, True),
        (GrantConstraints(subset=(("a", "1"),)), {"a": "2"}, False),
        (GrantConstraints(subset=(("a", "1"),)), {"A": "1"}, False),
        (GrantConstraints(subset=(("a", "1"),)), None, False),
    ],
)
def test_constraints(constraints: GrantConstraints, context: dict[str, str] | None, expected: bool) -> None:
    assert constraints.allows(context) is expected


EQ_A = GrantConstraints(equals=(("a", "1"),))
SUB_A = GrantConstraints(subset=(("a", "1"),))
SUB_AB = GrantConstraints(subset=(("a", "1"), ("b", "2")))
EQ_AB = GrantConstraints(equals=(("a", "1"), ("b", "2")))
SUB_B = GrantConstraints(subset=(("b", "2"),))


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        (None, None, True),
        (None, SUB_A, True),
        (SUB_A, None, False),
        (SUB_A, SUB_A, True),
        (SUB_A, SUB_AB, True),
        (SUB_A, EQ_A, True),
        (SUB_A, EQ_AB, True),
        (SUB_A, SUB_B, False),
        (SUB_AB, SUB_A, False),
        (EQ_A, EQ_A, True),
        (EQ_A, SUB_A, False),
        (EQ_A, EQ_AB, False),
    ],
)
def test_child_constraints_at_least_as_strict(
    parent: GrantConstraints | None, child: GrantConstraints | None, expected: bool
) -> None:
    parent_grant = grant("ef" * 32, ("Encrypt", "Decrypt", "CreateGrant"), parent)
    assert parent_grant.permits_child(ChildGrant(("Encrypt",), child)) is expected


def test_child_operations_must_be_a_subset(store: SqliteStore) -> None:
    store.insert_grant(grant("12" * 32, ("Encrypt", "CreateGrant"), SUB_A))
    auth = Authorizer(store, FixedClock(10.0))
    assert allowed(auth, "kms:CreateGrant", child_grant=ChildGrant(("Encrypt", "CreateGrant"), SUB_AB))
    assert not allowed(auth, "kms:CreateGrant", child_grant=ChildGrant(("Encrypt", "Decrypt"), SUB_AB))
    assert not allowed(auth, "kms:CreateGrant", child_grant=ChildGrant(("Encrypt",), None))
