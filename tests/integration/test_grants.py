"""Grants over HTTP: CreateGrant, grant tokens, constraints, ListGrants, retire and revoke."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, RunningServer, aws_error
from tests.integration.identities import Identity, allow, denied, make_identity, set_identity_policy
from tests.integration.signing import call

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    return kms.create_key()["KeyMetadata"]  # type: ignore[no-any-return]


@pytest.fixture
def grantee(server: RunningServer) -> Identity:
    """A user with no identity policy: whatever it may do on a key comes from grants."""
    return make_identity(server)


def test_a_grant_allows_exactly_its_operations(kms: Any, key: dict[str, Any], grantee: Identity) -> None:
    client = grantee.client
    denied(client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    created = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt", "Decrypt", "DescribeKey"]
    )
    assert len(created["GrantId"]) == 64 and created["GrantToken"]
    blob = client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    assert client.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert denied(client.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256") == (
        f"User: {grantee.arn} is not authorized to perform: kms:GenerateDataKey on resource: {key['Arn']} "
        "because no identity-based policy allows the kms:GenerateDataKey action"
    )
    denied(client.disable_key, KeyId=key["KeyId"])
    # A grant names one key; the grantee has nothing on another.
    other = kms.create_key()["KeyMetadata"]
    denied(client.encrypt, KeyId=other["KeyId"], Plaintext=b"x")

    (entry,) = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert entry["KeyId"] == key["Arn"] and entry["GrantId"] == created["GrantId"]
    assert entry["GranteePrincipal"] == grantee.arn and entry["IssuingAccount"] == ROOT
    assert entry["Operations"] == ["Encrypt", "Decrypt", "DescribeKey"]
    assert "Constraints" not in entry and "RetiringPrincipal" not in entry and entry["CreationDate"]


@pytest.mark.parametrize(
    ("constraints", "allowed", "refused"),
    [
        pytest.param(
            {"EncryptionContextEquals": {"app": "billing", "env": "prod"}},
            [{"env": "prod", "app": "billing"}],
            [
                {"app": "billing"},
                {"app": "billing", "env": "prod", "x": "y"},
                {"app": "Billing", "env": "prod"},
                {},
            ],
            id="equals",
        ),
        pytest.param(
            {"EncryptionContextSubset": {"app": "billing"}},
            [{"app": "billing"}, {"app": "billing", "env": "dev"}],
            [{"app": "other"}, {"env": "dev"}, {"APP": "billing"}, {}],
            id="subset",
        ),
    ],
)
def test_grant_constraints(
    kms: Any,
    key: dict[str, Any],
    grantee: Identity,
    constraints: dict[str, Any],
    allowed: list[dict[str, str]],
    refused: list[dict[str, str]],
) -> None:
    kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee.arn,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"],
        Constraints=constraints,
    )
    for context in allowed:
        blob = grantee.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=context)
        grantee.client.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=context)
        grantee.client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=context)
    for context in refused:
        denied(grantee.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=context)
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=context)["CiphertextBlob"]
        denied(grantee.client.decrypt, CiphertextBlob=blob, EncryptionContext=context)
    # Constraints do not apply to DescribeKey.
    grantee.client.describe_key(KeyId=key["KeyId"])
    (entry,) = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert entry["Constraints"] == constraints


def test_grant_tokens(server: RunningServer, kms: Any, key: dict[str, Any], grantee: Identity) -> None:
    first = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["GenerateDataKey"], Name="app-1"
    )
    # A retried CreateGrant with the same Name and parameters: same grant, new token.
    again = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["GenerateDataKey"], Name="app-1"
    )
    assert again["GrantId"] == first["GrantId"] and again["GrantToken"] != first["GrantToken"]
    # The same name with other parameters is another grant.
    other = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt"], Name="app-1"
    )
    assert other["GrantId"] != first["GrantId"]
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == 2

    # Every token names the grant; tokens may be passed to every grant operation that takes them.
    for token in (first["GrantToken"], again["GrantToken"]):
        grantee.client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", GrantTokens=[token])
    grantee.client.encrypt(
        KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[other["GrantToken"], first["GrantToken"]]
    )
    assert aws_error(
        grantee.client.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256", GrantTokens=["not-a-token"]
    ) == ("InvalidGrantTokenException", "The grant token is invalid.", 400)
    # A token is not a permission by itself: it names a grant, which must be for this caller.
    stranger = make_identity(server, allow("kms:DescribeKey"))
    denied(
        stranger.client.generate_data_key,
        KeyId=key["KeyId"],
        KeySpec="AES_256",
        GrantTokens=[first["GrantToken"]],
    )


def test_retire_grant(server: RunningServer, kms: Any, key: dict[str, Any], grantee: Identity) -> None:
    retirer = make_identity(server)
    stranger = make_identity(server, allow(["kms:Encrypt", "kms:ListRetirableGrants"]))
    by_token = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee.arn,
        RetiringPrincipal=retirer.arn,
        Operations=["Encrypt"],
    )
    # Only the retiring principal, a grantee allowed to retire, or the key's account may retire it.
    assert denied(grantee.client.retire_grant, GrantToken=by_token["GrantToken"]).startswith(
        f"User: {grantee.arn} is not authorized to perform: kms:RetireGrant on resource: {key['Arn']}"
    )
    code, _, _ = aws_error(retirer.client.retire_grant, GrantToken=by_token["GrantToken"], DryRun=True)
    assert code == "DryRunOperationException"
    grantee.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")  # the dry run retired nothing
    retirer.client.retire_grant(GrantToken=by_token["GrantToken"])
    denied(grantee.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    assert aws_error(retirer.client.retire_grant, GrantToken=by_token["GrantToken"])[0] == (
        "InvalidGrantTokenException"
    )

    by_id = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt", "RetireGrant"]
    )
    assert kms.list_retirable_grants(RetiringPrincipal=retirer.arn)["Grants"] == []
    assert stranger.client.list_retirable_grants(RetiringPrincipal=grantee.arn)["Grants"] == []
    denied(stranger.client.retire_grant, KeyId=key["Arn"], GrantId=by_id["GrantId"])
    grantee.client.retire_grant(KeyId=key["Arn"], GrantId=by_id["GrantId"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    code, message, status = aws_error(kms.retire_grant, KeyId=key["Arn"], GrantId=by_id["GrantId"])
    assert (code, status) == ("InvalidGrantIdException", 400)

    # The account that owns the key may retire any of its grants: its root, and the users it delegates
    # kms:RetireGrant to in an identity policy.
    last = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    kms.retire_grant(KeyId=key["Arn"], GrantId=last["GrantId"])
    delegate = make_identity(server, allow("kms:RetireGrant"))
    last = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    delegate.client.retire_grant(GrantToken=last["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_list_retirable_grants(server: RunningServer, kms: Any, grantee: Identity) -> None:
    retirer = make_identity(server, allow("kms:ListRetirableGrants"))
    keys = [kms.create_key()["KeyMetadata"] for _ in range(2)]
    ids = {
        kms.create_grant(
            KeyId=k["KeyId"],
            GranteePrincipal=grantee.arn,
            RetiringPrincipal=retirer.arn,
            Operations=["Decrypt"],
        )["GrantId"]
        for k in keys
    }
    listed = retirer.client.list_retirable_grants(RetiringPrincipal=retirer.arn)["Grants"]
    assert {g["GrantId"] for g in listed} == ids
    assert {g["KeyId"] for g in listed} == {k["Arn"] for k in keys}
    denied(grantee.client.list_retirable_grants, RetiringPrincipal=retirer.arn)


def test_revoke_grant(server: RunningServer, kms: Any, key: dict[str, Any], grantee: Identity) -> None:
    grant = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt", "RetireGrant"]
    )
    grantee.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    # RevokeGrant is a policy permission: being the grantee is not enough.
    assert denied(grantee.client.revoke_grant, KeyId=key["KeyId"], GrantId=grant["GrantId"]) == (
        f"User: {grantee.arn} is not authorized to perform: kms:RevokeGrant on resource: {key['Arn']} "
        "because no identity-based policy allows the kms:RevokeGrant action"
    )
    admin = make_identity(server, allow("kms:RevokeGrant", key["Arn"]))
    code, _, _ = aws_error(
        admin.client.revoke_grant, KeyId=key["KeyId"], GrantId=grant["GrantId"], DryRun=True
    )
    assert code == "DryRunOperationException"
    admin.client.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    denied(grantee.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    assert aws_error(admin.client.revoke_grant, KeyId=key["KeyId"], GrantId=grant["GrantId"])[0] == (
        "NotFoundException"
    )


def test_a_grant_with_create_grant_allows_only_narrower_grants(
    server: RunningServer, kms: Any, key: dict[str, Any], grantee: Identity
) -> None:
    child = make_identity(server)
    kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee.arn,
        Operations=["Encrypt", "Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"team": "a"}},
    )
    create = grantee.client.create_grant

    def refused(**kwargs: Any) -> None:
        denied(create, KeyId=key["KeyId"], GranteePrincipal=child.arn, **kwargs)

    refused(Operations=["Encrypt", "GenerateDataKey"])  # an operation the parent lacks
    refused(Operations=["Encrypt"])  # no constraint is looser than the parent's
    refused(Operations=["Encrypt"], Constraints={"EncryptionContextSubset": {"team": "b"}})
    refused(Operations=["Encrypt"], Constraints={"EncryptionContextSubset": {"other": "a"}})
    # Same or stricter: equal Subset, a Subset with more pairs, an Equals holding the parent's pairs.
    for constraints in (
        {"EncryptionContextSubset": {"team": "a"}},
        {"EncryptionContextSubset": {"team": "a", "env": "prod"}},
        {"EncryptionContextEquals": {"team": "a", "env": "prod"}},
    ):
        create(
            KeyId=key["KeyId"], GranteePrincipal=child.arn, Operations=["Encrypt"], Constraints=constraints
        )
    child.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"team": "a", "env": "prod"})
    denied(child.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"team": "b"})

    # From Equals, only the same Equals.
    strict = make_identity(server)
    kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=strict.arn,
        Operations=["Decrypt", "CreateGrant"],
        Constraints={"EncryptionContextEquals": {"team": "a"}},
    )
    denied(
        strict.client.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal=child.arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"team": "a"}},
    )
    strict.client.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=child.arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"team": "a"}},
    )


def test_grant_operations_must_suit_the_key(kms: Any, key: dict[str, Any], grantee: Identity) -> None:
    code, _, status = aws_error(
        kms.create_grant, KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Sign"]
    )
    assert (code, status) == ("ValidationException", 400)
    assert aws_error(
        kms.create_grant, KeyId="alias/whatever", GranteePrincipal=grantee.arn, Operations=["Decrypt"]
    )[:2] == ("InvalidArnException", "Key Aliases are not supported for this operation.")
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_forged_and_tampered_grant_tokens_are_refused(
    kms: Any, key: dict[str, Any], grantee: Identity
) -> None:
    created = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    token, grant_id = created["GrantToken"], created["GrantId"]
    # What the old, unauthenticated format allowed: a token built from a known grant id and a zero nonce.
    zero_nonce = base64.urlsafe_b64encode(b"\x01" + bytes.fromhex(grant_id) + bytes(16)).decode().rstrip("=")
    raw = base64.urlsafe_b64decode(token)
    no_tag = base64.urlsafe_b64encode(raw[:-32] + bytes(32)).decode()
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for forged in (zero_nonce, no_tag, flipped, token + "A", token[:-1]):
        assert aws_error(
            grantee.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[forged]
        ) == ("InvalidGrantTokenException", "The grant token is invalid.", 400), forged
        assert aws_error(kms.retire_grant, GrantToken=forged)[0] == "InvalidGrantTokenException"
    # The real token still works, and is the opaque base64 string it always was.
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    grantee.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[token])
    kms.retire_grant(GrantToken=token)


def test_the_service_checks_principals_the_model_leaves_optional(server: RunningServer, kms: Any) -> None:
    # Newer KMS models made these members optional (for the ...ServicePrincipal alternatives), so the
    # handlers check them, in the validator's words.
    assert call(server.endpoint, "ListRetirableGrants", b"{}") == (
        400,
        {
            "__type": "ValidationException",
            "message": "1 validation error detected: Value null at 'retiringPrincipal' failed to satisfy "
            "constraint: Member must not be null",
        },
    )
    status, answer = call(server.endpoint, "ListRetirableGrants", b'{"Limit": 5}')
    assert (status, answer["__type"]) == (400, "ValidationException")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id, "Operations": ["Encrypt"]}).encode()
    assert call(server.endpoint, "CreateGrant", body) == (
        400,
        {
            "__type": "ValidationException",
            "message": "1 validation error detected: Value null at 'granteePrincipal' failed to satisfy "
            "constraint: Member must not be null",
        },
    )
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    assert aws_error(kms.list_retirable_grants, RetiringPrincipal="not-an-arn")[0] == "InvalidArnException"


def test_list_retirable_grants_authorizes_the_retiring_principal(
    server: RunningServer, kms: Any, grantee: Identity
) -> None:
    # The authorized resource is the retiring principal: a policy may allow listing one's own grants only.
    own = make_identity(server)
    set_identity_policy(server, own, allow("kms:ListRetirableGrants", own.arn))
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee.arn, RetiringPrincipal=own.arn, Operations=["Encrypt"]
    )
    assert len(own.client.list_retirable_grants(RetiringPrincipal=own.arn)["Grants"]) == 1
    assert denied(own.client.list_retirable_grants, RetiringPrincipal=grantee.arn) == (
        f"User: {own.arn} is not authorized to perform: kms:ListRetirableGrants on resource: {grantee.arn} "
        "because no identity-based policy allows the kms:ListRetirableGrants action"
    )


def test_service_principals_and_source_arn_constraints_are_refused_by_name(
    server: RunningServer, kms: Any
) -> None:
    # No AWS service calls Strongroom: a grant for a service principal could never be used, and a
    # SourceArn constraint dropped silently would make a grant allow more than was asked.
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    base = {"KeyId": key_id, "Operations": ["Encrypt"], "GranteePrincipal": ROOT}
    for extra, named in [
        ({"GranteeServicePrincipal": "logs.amazonaws.com"}, "GranteeServicePrincipal"),
        ({"RetiringServicePrincipal": "logs.amazonaws.com"}, "RetiringServicePrincipal"),
        ({"Constraints": {"SourceArn": "arn:aws:logs:us-east-1:111122223333:log-group:x"}}, "SourceArn"),
    ]:
        status, answer = call(server.endpoint, "CreateGrant", json.dumps(base | extra).encode())
        assert (status, answer["__type"]) == (400, "UnsupportedOperationException")
        assert named in answer["message"]
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    kms.create_grant(KeyId=key_id, GranteePrincipal=ROOT, Operations=["Encrypt"])
    body = json.dumps({"KeyId": key_id, "GranteeServicePrincipal": "logs.amazonaws.com"}).encode()
    assert call(server.endpoint, "ListGrants", body) == (200, {"Grants": [], "Truncated": False})
    body = json.dumps({"RetiringServicePrincipal": "logs.amazonaws.com"}).encode()
    assert call(server.endpoint, "ListRetirableGrants", body) == (200, {"Grants": [], "Truncated": False})
