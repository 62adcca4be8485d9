"""The SQLite store's identity, key-policy and grant tables, and schema upgrades."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

from strongroom.domain.grants import Grant, GrantConstraints
from strongroom.domain.identities import IamPrincipal, PrincipalKind, principal_arn
from strongroom.domain.keys import KmsKey
from strongroom.storage.base import AccessKeyRecord, ChangeKind
from strongroom.storage.sqlite import SqliteStore

ACCOUNT = "111122223333"


def user(name: str) -> IamPrincipal:
    return IamPrincipal(
        ACCOUNT,
        PrincipalKind.USER,
        name,
        "/",
        principal_arn(ACCOUNT, PrincipalKind.USER, name),
        "AIDAEXAMPLE",
        1.0,
    )


def test_principals_policies_and_access_keys(tmp_path):
    store = SqliteStore(tmp_path / "db")
    alice = user("alice")
    assert store.insert_principal(alice) and not store.insert_principal(alice)
    assert store.get_principal(ACCOUNT, PrincipalKind.USER, "alice") == alice
    assert store.get_principal_by_arn(alice.arn) == alice
    assert store.get_principal(ACCOUNT, PrincipalKind.ROLE, "alice") is None
    store.put_identity_policy(alice, "b", '{"v": 2}')
    store.put_identity_policy(alice, "a", '{"v": 1}')
    store.put_identity_policy(alice, "b", '{"v": 3}')
    assert store.list_identity_policies(alice) == [("a", '{"v": 1}'), ("b", '{"v": 3}')]
    assert store.delete_identity_policy(alice, "a") and not store.delete_identity_policy(alice, "a")
    store.put_access_key(AccessKeyRecord("AKIAALICE", b"wrapped", ACCOUNT, alice.arn, 2.0))
    assert [r.access_key_id for r in store.list_access_keys(alice.arn)] == ["AKIAALICE"]
    before = store.latest_change_seq()
    assert store.delete_principal(ACCOUNT, PrincipalKind.USER, "alice")
    assert store.get_access_key("AKIAALICE") is None, "a user's access keys go with it"
    assert store.list_identity_policies(alice) == []
    changes, _ = store.changes_since(before)
    assert {(c.kind, c.name) for c in changes} == {
        (ChangeKind.ACCESS_KEY, "AKIAALICE"),
        (ChangeKind.PRINCIPAL, alice.arn),
    }
    assert not store.delete_principal(ACCOUNT, PrincipalKind.USER, "alice")


def test_key_policy_and_grants(tmp_path):
    store = SqliteStore(tmp_path / "db")
    key = KmsKey("1234abcd-12ab-34cd-56ef-1234567890ab", ACCOUNT, "us-east-1", 1.0)
    store.insert_key(key, None)
    assert store.get_key_policy("us-east-1", key.key_id) is None
    store.put_key_policy("us-east-1", key.key_id, '{"Statement": []}')
    assert store.get_key_policy("us-east-1", key.key_id) == '{"Statement": []}'
    grant = Grant(
        "g1",
        "us-east-1",
        key.key_id,
        "named",
        "arn:aws:iam::111122223333:role/r",
        "arn:aws:iam::111122223333:user/u",
        ("Decrypt", "Encrypt"),
        GrantConstraints(subset=(("a", "b"),)),
        ACCOUNT,
        5.0,
    )
    plain = Grant(
        "g2",
        "us-east-1",
        key.key_id,
        None,
        "arn:aws:iam::111122223333:root",
        None,
        ("DescribeKey",),
        None,
        ACCOUNT,
        6.0,
    )
    store.insert_grant(grant)
    store.insert_grant(plain)
    assert store.get_grant("g1") == grant
    assert store.list_grants("us-east-1", key.key_id) == [grant, plain]
    assert store.find_grant_by_name("us-east-1", key.key_id, "named") == [grant]
    assert store.list_retirable_grants("arn:aws:iam::111122223333:user/u") == [grant]
    assert store.delete_grant("g2") and not store.delete_grant("g2")
    store.delete_key("us-east-1", key.key_id)
    assert store.get_grant("g1") is None, "grants go with their key"


def test_upgrade_from_schema_version_1(tmp_path):
    path = tmp_path / "db"
    first = next(
        p
        for p in (resources.files("strongroom.storage") / "migrations").iterdir()
        if p.name.startswith("0001")
    )
    conn = sqlite3.connect(path)
    conn.executescript(first.read_text() + "\nPRAGMA user_version=1;")
    conn.execute(
        "INSERT INTO kms_keys (region, key_id, account_id, creation_date, description, key_spec, "
        "key_usage, origin, key_state, multi_region) VALUES ('us-east-1', 'k', ?, 1, '', "
        "'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'AWS_KMS', 'Enabled', 0)",
        (ACCOUNT,),
    )
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    assert store.get_key("us-east-1", "k") is not None
    assert store.get_key_policy("us-east-1", "k") is None
    assert store.list_grants("us-east-1", "k") == []


def test_add_meta_never_overwrites(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    store.add_meta("grant_token_key", "first")
    store.add_meta("grant_token_key", "second")  # a racing process: the first value stays
    assert store.get_meta("grant_token_key") == "first"
    store.close()
