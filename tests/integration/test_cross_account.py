"""Cross-account use: account B's principals use account A's keys when both sides allow it, by key ARN."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, RunningServer, aws_error
from tests.integration.identities import ACCOUNT_B, Identity, allow, denied, key_policy, make_identity

ROOT_B = f"arn:aws:iam::{ACCOUNT_B}:root"


def shared_key(kms: Any, principal: str, actions: list[str]) -> dict[str, Any]:
    """A key of account A whose policy lets ``principal`` (of account B) perform ``actions``."""
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"}
    key = kms.create_key(Policy=key_policy(statement))["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/shared-{key['KeyId'][:8]}", TargetKeyId=key["KeyId"])
    return key  # type: ignore[no-any-return]


USE = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]


@pytest.fixture
def user_b(server: RunningServer) -> Identity:
    return make_identity(
        server, allow(USE + ["kms:CreateGrant", "kms:DisableKey", "kms:ListKeys"]), account_id=ACCOUNT_B
    )


def test_both_policies_allow(kms: Any, user_b: Identity) -> None:
    key = shared_key(kms, ROOT_B, USE + ["kms:DisableKey"])
    client = user_b.client
    data_key = client.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    assert data_key["KeyId"] == key["Arn"]
    # A's own principals can decrypt what B made, and B can decrypt A's blobs (the blob names the key).
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"from A")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from A"
    assert client.decrypt(CiphertextBlob=blob, KeyId=key["Arn"])["KeyId"] == key["Arn"]
    assert client.describe_key(KeyId=key["Arn"])["KeyMetadata"]["AWSAccountId"] == ACCOUNT_ID
    client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key["Arn"])

    # By key ARN or alias ARN ("To specify a KMS key in a different AWS account, you must use its key ARN
    # or alias ARN"): a bare key id, or A's alias name, names nothing in account B.
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/shared-{key['KeyId'][:8]}"
    by_alias = client.encrypt(KeyId=alias_arn, Plaintext=b"by alias ARN")
    assert by_alias["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=by_alias["CiphertextBlob"])["Plaintext"] == b"by alias ARN"
    assert client.describe_key(KeyId=alias_arn)["KeyMetadata"]["Arn"] == key["Arn"]
    missing = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/no-such-alias"
    assert aws_error(client.encrypt, KeyId=missing, Plaintext=b"x") == (
        "NotFoundException",
        f"Alias {missing} is not found.",
        400,
    )
    assert aws_error(client.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == (
        "NotFoundException",
        f"Key 'arn:aws:kms:us-east-1:{ACCOUNT_B}:key/{key['KeyId']}' does not exist",
        400,
    )
    assert aws_error(client.encrypt, KeyId=f"alias/shared-{key['KeyId'][:8]}", Plaintext=b"x")[0] == (
        "NotFoundException"
    )
    # B's lists show B's account only.
    assert all(k["KeyId"] != key["KeyId"] for k in client.list_keys()["Keys"])

    # Key management never crosses accounts, whatever both policies say.
    assert denied(client.disable_key, KeyId=key["Arn"]) == (
        f"User: {user_b.arn} is not authorized to perform: kms:DisableKey on resource: {key['Arn']} "
        "because no resource-based policy allows the kms:DisableKey action"
    )
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Enabled"] is True


def test_the_key_policy_must_allow_the_other_account(kms: Any, user_b: Identity) -> None:
    key = kms.create_key()["KeyMetadata"]  # default policy: account A only
    assert denied(user_b.client.encrypt, KeyId=key["Arn"], Plaintext=b"x") == (
        f"User: {user_b.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        "because no resource-based policy allows the kms:Encrypt action"
    )


def test_the_identity_policy_in_the_other_account_must_allow_too(server: RunningServer, kms: Any) -> None:
    key = shared_key(kms, ROOT_B, USE)
    bare = make_identity(server, allow("kms:Decrypt"), account_id=ACCOUNT_B)
    assert denied(bare.client.encrypt, KeyId=key["Arn"], Plaintext=b"x") == (
        f"User: {bare.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        "because no identity-based policy allows the kms:Encrypt action"
    )
    # Even a key policy naming the user itself needs B's identity policy: each account guards its own.
    named = make_identity(server, account_id=ACCOUNT_B)
    direct = shared_key(kms, named.arn, ["kms:Encrypt"])
    denied(named.client.encrypt, KeyId=direct["Arn"], Plaintext=b"x")


def test_a_key_policy_naming_one_user_of_the_other_account(server: RunningServer, kms: Any) -> None:
    chosen = make_identity(server, allow("kms:Encrypt"), account_id=ACCOUNT_B)
    other = make_identity(server, allow("kms:Encrypt"), account_id=ACCOUNT_B)
    key = shared_key(kms, chosen.arn, ["kms:Encrypt"])
    chosen.client.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    denied(other.client.encrypt, KeyId=key["Arn"], Plaintext=b"x")


def test_grants_across_accounts(server: RunningServer, kms: Any, user_b: Identity) -> None:
    key = kms.create_key()["KeyMetadata"]
    grant = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user_b.arn, Operations=["Encrypt", "Decrypt"]
    )
    blob = user_b.client.encrypt(KeyId=key["Arn"], Plaintext=b"x", GrantTokens=[grant["GrantToken"]])
    assert user_b.client.decrypt(CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == b"x"
    denied(user_b.client.generate_data_key, KeyId=key["Arn"], KeySpec="AES_256")
    # B creates a grant on A's key, where A's key policy allows B's root to.
    shared = shared_key(kms, ROOT_B, ["kms:CreateGrant"])
    other_b = make_identity(server, account_id=ACCOUNT_B)
    created = user_b.client.create_grant(
        KeyId=shared["Arn"], GranteePrincipal=other_b.arn, Operations=["Encrypt"]
    )
    (entry,) = kms.list_grants(KeyId=shared["KeyId"])["Grants"]
    assert entry["GrantId"] == created["GrantId"] and entry["IssuingAccount"] == ROOT_B
    other_b.client.encrypt(KeyId=shared["Arn"], Plaintext=b"x")


def test_another_account_keeps_its_own_keys(server: RunningServer, kms: Any) -> None:
    admin_b = make_identity(server, allow("kms:*"), account_id=ACCOUNT_B)
    own = admin_b.client.create_key(Description="B's key")["KeyMetadata"]
    assert own["AWSAccountId"] == ACCOUNT_B and own["Arn"].split(":")[4] == ACCOUNT_B
    admin_b.client.encrypt(KeyId=own["KeyId"], Plaintext=b"x")
    policy = json.loads(admin_b.client.get_key_policy(KeyId=own["KeyId"])["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": ROOT_B}
    # Account A's root has no say over it.
    denied(kms.describe_key, KeyId=own["Arn"])
    assert aws_error(kms.describe_key, KeyId=own["KeyId"])[0] == "NotFoundException"


def test_list_retirable_grants_names_a_principal_of_the_callers_account(
    server: RunningServer, kms: Any
) -> None:
    retirer_a = make_identity(server)
    grantee_a = make_identity(server)
    lister_b = make_identity(server, allow("kms:ListRetirableGrants"), account_id=ACCOUNT_B)
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee_a.arn,
        RetiringPrincipal=retirer_a.arn,
        Operations=["Encrypt"],
    )
    # Account B may not list account A's retirable grants (they name A's key, grant ids and grantees),
    # even with an identity policy that allows kms:ListRetirableGrants on everything.
    for principal in (retirer_a.arn, f"arn:aws:iam::{ACCOUNT_ID}:root"):
        assert denied(lister_b.client.list_retirable_grants, RetiringPrincipal=principal) == (
            f"User: {lister_b.arn} is not authorized to perform: kms:ListRetirableGrants on resource: "
            f"{principal} because no resource-based policy allows the kms:ListRetirableGrants action"
        )
    assert aws_error(kms.list_retirable_grants, RetiringPrincipal=lister_b.arn)[0] == "AccessDeniedException"
    # Its own principals it may name, and their grants on keys of other accounts are listed.
    grant = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee_a.arn,
        RetiringPrincipal=lister_b.arn,
        Operations=["Encrypt"],
    )
    (listed,) = lister_b.client.list_retirable_grants(RetiringPrincipal=lister_b.arn)["Grants"]
    assert (listed["GrantId"], listed["KeyId"]) == (grant["GrantId"], key["Arn"])
