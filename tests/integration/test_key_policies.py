"""Key policies and identity policies over HTTP: who may call what, with AWS's messages.

Each test makes its own users (``make_identity``) and keys on the shared server, as the account root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from strongroom.domain.identities import PrincipalKind
from strongroom.service.identities import IamError
from tests.conftest import ACCOUNT_ID, RunningServer, aws_error
from tests.integration.identities import (
    Identity,
    allow,
    denied,
    deny,
    key_policy,
    make_identity,
    set_identity_policy,
)

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
DEFAULT_POLICY = (
    "{\n"
    '  "Version" : "2012-10-17",\n'
    '  "Id" : "key-default-1",\n'
    '  "Statement" : [ {\n'
    '    "Sid" : "Enable IAM User Permissions",\n'
    '    "Effect" : "Allow",\n'
    '    "Principal" : {\n'
    f'      "AWS" : "{ROOT}"\n'
    "    },\n"
    '    "Action" : "kms:*",\n'
    '    "Resource" : "*"\n'
    "  } ]\n"
    "}"
)


def no_identity_allow(who: Identity, action: str, resource: str) -> str:
    return (
        f"User: {who.arn} is not authorized to perform: kms:{action} on resource: {resource} "
        f"because no identity-based policy allows the kms:{action} action"
    )


def new_key(kms: Any, **kwargs: Any) -> dict[str, Any]:
    return kms.create_key(**kwargs)["KeyMetadata"]  # type: ignore[no-any-return]


# -- the default policy --------------------------------------------------------------------------------------
def test_default_key_policy_is_the_text_aws_writes(kms: Any) -> None:
    key = new_key(kms)
    got = kms.get_key_policy(KeyId=key["KeyId"])
    assert got == {
        "Policy": DEFAULT_POLICY,
        "PolicyName": "default",
        "ResponseMetadata": got["ResponseMetadata"],
    }
    assert kms.get_key_policy(KeyId=key["Arn"], PolicyName="default")["Policy"] == DEFAULT_POLICY
    listed = kms.list_key_policies(KeyId=key["KeyId"])
    assert (listed["PolicyNames"], listed["Truncated"]) == (["default"], False)
    assert aws_error(kms.get_key_policy, KeyId=key["KeyId"], PolicyName="other") == (
        "NotFoundException",
        "No such policy exists",
        400,
    )


def test_default_policy_delegates_to_identity_policies(server: RunningServer, kms: Any) -> None:
    key = new_key(kms)
    nobody = make_identity(server)
    assert denied(nobody.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == no_identity_allow(
        nobody, "Encrypt", key["Arn"]
    )
    # Granting it in the identity policy takes effect on the next request, without a restart.
    set_identity_policy(server, nobody, allow("kms:Encrypt"))
    assert nobody.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]
    assert denied(nobody.client.describe_key, KeyId=key["KeyId"]) == no_identity_allow(
        nobody, "DescribeKey", key["Arn"]
    )


# -- operation families --------------------------------------------------------------------------------------
# Each family: the calls it makes, given a key (id, arn) and a ciphertext of it.
Call = Callable[[Any, dict[str, Any], bytes], Any]
FAMILIES: dict[str, tuple[list[str], list[tuple[str, Call]]]] = {
    "cryptographic": (
        ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        [
            ("Encrypt", lambda c, k, b: c.encrypt(KeyId=k["KeyId"], Plaintext=b"p")),
            ("Decrypt", lambda c, k, b: c.decrypt(CiphertextBlob=b)),
            ("GenerateDataKey", lambda c, k, b: c.generate_data_key(KeyId=k["KeyId"], KeySpec="AES_256")),
            (
                "GenerateDataKeyWithoutPlaintext",
                lambda c, k, b: c.generate_data_key_without_plaintext(KeyId=k["KeyId"], NumberOfBytes=16),
            ),
            ("ReEncryptFrom", lambda c, k, b: c.re_encrypt(CiphertextBlob=b, DestinationKeyId=k["KeyId"])),
        ],
    ),
    "key management": (
        ["kms:DescribeKey", "kms:DisableKey", "kms:EnableKey", "kms:UpdateKeyDescription"],
        [
            ("DescribeKey", lambda c, k, b: c.describe_key(KeyId=k["KeyId"])),
            ("DisableKey", lambda c, k, b: c.disable_key(KeyId=k["KeyId"])),
            ("EnableKey", lambda c, k, b: c.enable_key(KeyId=k["KeyId"])),
            (
                "UpdateKeyDescription",
                lambda c, k, b: c.update_key_description(KeyId=k["KeyId"], Description="d"),
            ),
        ],
    ),
    "tags": (
        ["kms:TagResource", "kms:UntagResource", "kms:ListResourceTags"],
        [
            (
                "TagResource",
                lambda c, k, b: c.tag_resource(KeyId=k["KeyId"], Tags=[{"TagKey": "a", "TagValue": "b"}]),
            ),
            ("ListResourceTags", lambda c, k, b: c.list_resource_tags(KeyId=k["KeyId"])),
            ("UntagResource", lambda c, k, b: c.untag_resource(KeyId=k["KeyId"], TagKeys=["a"])),
        ],
    ),
    "key policies": (
        ["kms:GetKeyPolicy", "kms:ListKeyPolicies"],
        [
            ("GetKeyPolicy", lambda c, k, b: c.get_key_policy(KeyId=k["KeyId"])),
            ("ListKeyPolicies", lambda c, k, b: c.list_key_policies(KeyId=k["KeyId"])),
        ],
    ),
    "grants": (
        ["kms:CreateGrant", "kms:ListGrants"],
        [
            (
                "CreateGrant",
                lambda c, k, b: c.create_grant(
                    KeyId=k["KeyId"], GranteePrincipal=ROOT, Operations=["Decrypt"]
                ),
            ),
            ("ListGrants", lambda c, k, b: c.list_grants(KeyId=k["KeyId"])),
        ],
    ),
    "deletion": (
        ["kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
        [
            (
                "ScheduleKeyDeletion",
                lambda c, k, b: c.schedule_key_deletion(KeyId=k["KeyId"], PendingWindowInDays=7),
            ),
            ("CancelKeyDeletion", lambda c, k, b: c.cancel_key_deletion(KeyId=k["KeyId"])),
        ],
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_operation_family_is_allowed_only_by_its_actions(
    server: RunningServer, kms: Any, family: str
) -> None:
    actions, calls = FAMILIES[family]
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    allowed = make_identity(server, allow(actions, key["Arn"]))
    # Everything but this family: still denied for every call of the family.
    others = [a for name, (acts, _) in FAMILIES.items() if name != family for a in acts]
    outsider = make_identity(server, allow(others))
    for action, call in calls:
        message = denied(lambda: call(outsider.client, key, blob))  # noqa: B023
        assert message == no_identity_allow(outsider, action, key["Arn"])
        call(allowed.client, key, blob)


def test_account_level_actions_need_an_identity_policy(server: RunningServer, kms: Any) -> None:
    user = make_identity(server, allow(["kms:CreateKey", "kms:ListKeys"]))
    created = user.client.create_key()["KeyMetadata"]
    assert created["AWSAccountId"] == ACCOUNT_ID
    assert any(k["KeyId"] == created["KeyId"] for k in _all_keys(user.client))
    # The creator got no permission on the key it made: the default policy delegates to IAM.
    assert denied(user.client.describe_key, KeyId=created["KeyId"]) == no_identity_allow(
        user, "DescribeKey", created["Arn"]
    )
    assert denied(user.client.generate_random, NumberOfBytes=8) == no_identity_allow(
        user, "GenerateRandom", "*"
    )
    assert denied(user.client.list_aliases) == no_identity_allow(user, "ListAliases", "*")


def _all_keys(client: Any) -> list[dict[str, Any]]:
    return [k for page in client.get_paginator("list_keys").paginate() for k in page["Keys"]]


def test_aliases_need_permission_on_the_alias_and_on_the_key(server: RunningServer, kms: Any) -> None:
    key = new_key(kms)
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/auth-alias-1"
    only_key = make_identity(server, allow("kms:CreateAlias", key["Arn"]))
    assert denied(only_key.client.create_alias, AliasName="alias/auth-alias-1", TargetKeyId=key["KeyId"]) == (
        no_identity_allow(only_key, "CreateAlias", alias_arn)
    )
    only_alias = make_identity(server, allow("kms:CreateAlias", alias_arn))
    assert denied(
        only_alias.client.create_alias, AliasName="alias/auth-alias-1", TargetKeyId=key["KeyId"]
    ) == (no_identity_allow(only_alias, "CreateAlias", key["Arn"]))
    both = make_identity(server, allow("kms:CreateAlias", [alias_arn, key["Arn"]]))
    both.client.create_alias(AliasName="alias/auth-alias-1", TargetKeyId=key["KeyId"])
    assert denied(both.client.delete_alias, AliasName="alias/auth-alias-1") == no_identity_allow(
        both, "DeleteAlias", alias_arn
    )


# -- statements: Action, NotAction, Resource, Principal ------------------------------------------------------
def test_action_wildcards_not_action_and_resource(server: RunningServer, kms: Any) -> None:
    key, other = new_key(kms), new_key(kms)
    generate = make_identity(server, allow("kms:Generate*", key["Arn"]))
    generate.client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    generate.client.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    denied(generate.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    assert denied(generate.client.generate_data_key, KeyId=other["KeyId"], KeySpec="AES_256") == (
        no_identity_allow(generate, "GenerateDataKey", other["Arn"])
    )

    # Everything except DisableKey, on keys of this account and region.
    not_action = make_identity(
        server,
        {
            "Effect": "Allow",
            "NotAction": ["kms:DisableKey"],
            "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/*",
        },
    )
    not_action.client.describe_key(KeyId=other["KeyId"])
    not_action.client.encrypt(KeyId=other["KeyId"], Plaintext=b"x")
    denied(not_action.client.disable_key, KeyId=other["KeyId"])

    # Action names are case-insensitive, as in IAM.
    upper = make_identity(server, allow("KMS:DESCRIBEKEY"))
    upper.client.describe_key(KeyId=key["KeyId"])


@pytest.mark.parametrize(
    "principal",
    [
        pytest.param(lambda who: ACCOUNT_ID, id="account-id"),
        pytest.param(lambda who: ROOT, id="account-root"),
        pytest.param(lambda who: who.arn, id="user-arn"),
        pytest.param(lambda who: "*", id="star"),
    ],
)
def test_key_policy_principal_forms(
    server: RunningServer, kms: Any, principal: Callable[[Identity], str]
) -> None:
    """An account (or its root) in the key policy delegates to identity policies; naming the caller (or
    ``*``) allows it directly."""
    user = make_identity(server)
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": principal(user)},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    key = new_key(kms, Policy=key_policy(statement))
    direct = principal(user) in (user.arn, "*")
    if direct:
        user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    else:
        denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
        set_identity_policy(server, user, allow("kms:Encrypt"))
        user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    # Nothing in the key policy allows Decrypt for the user, whatever its identity policy says... except
    # through the admin statement, which delegates to IAM for the account.
    denied(
        user.client.decrypt, CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    )


def test_role_principal(server: RunningServer, kms: Any) -> None:
    role = make_identity(server, kind=PrincipalKind.ROLE)
    assert role.arn.startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/")
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": role.arn},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
    }
    key = new_key(kms, Policy=key_policy(statement))
    role.client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    user = make_identity(server)
    message = denied(user.client.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256")
    assert message == no_identity_allow(user, "GenerateDataKey", key["Arn"])


def test_key_policy_without_iam_delegation_ignores_identity_policies(server: RunningServer, kms: Any) -> None:
    user = make_identity(server, allow("kms:*"))
    named = make_identity(server)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ROOT},
                    "Action": "kms:PutKeyPolicy",
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": named.arn},
                    "Action": "kms:Encrypt",
                    "Resource": "*",
                },
            ],
        }
    )
    key = new_key(kms, Policy=policy, BypassPolicyLockoutSafetyCheck=True)
    named.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    # The account principal is allowed only PutKeyPolicy, so kms:* in the user's policy does not reach it.
    assert denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == (
        f"User: {user.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        "because no resource-based policy allows the kms:Encrypt action"
    )
    # Not even the root may describe it now.
    denied(kms.describe_key, KeyId=key["KeyId"])


def test_explicit_deny_wins(server: RunningServer, kms: Any) -> None:
    user = make_identity(server, allow("kms:*"))
    deny_in_key = {"Effect": "Deny", "Principal": {"AWS": user.arn}, "Action": "kms:Decrypt", "Resource": "*"}
    key = new_key(kms, Policy=key_policy(deny_in_key))
    blob = user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert denied(user.client.decrypt, CiphertextBlob=blob) == (
        f"User: {user.arn} is not authorized to perform: kms:Decrypt on resource: {key['Arn']} "
        "with an explicit deny in a resource-based policy"
    )
    set_identity_policy(server, user, allow("kms:*"), deny("kms:Encrypt", key["Arn"]))
    assert denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x") == (
        f"User: {user.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        "with an explicit deny in an identity-based policy"
    )
    # A grant does not override an explicit deny either.
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["Decrypt", "Encrypt"])
    denied(user.client.decrypt, CiphertextBlob=blob)
    denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")


# -- PutKeyPolicy and the lockout check ----------------------------------------------------------------------
def test_put_key_policy_and_lockout_check(server: RunningServer, kms: Any) -> None:
    key = new_key(kms)
    user = make_identity(server)
    lockout = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "kms:Encrypt", "Resource": "*"}
            ],
        }
    )
    assert aws_error(kms.put_key_policy, KeyId=key["KeyId"], Policy=lockout) == (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
        400,
    )
    assert aws_error(kms.create_key, Policy=lockout)[:2] == (
        "MalformedPolicyDocumentException",
        "The new key policy will not allow you to update the key policy in the future.",
    )
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == DEFAULT_POLICY  # unchanged

    mine = key_policy(
        {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "kms:Encrypt", "Resource": "*"}
    )
    kms.put_key_policy(KeyId=key["KeyId"], Policy=mine, PolicyName="default")
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"]) == json.loads(mine)
    user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")

    # With the bypass, the lockout policy is taken and the root loses control of the key.
    kms.put_key_policy(KeyId=key["KeyId"], Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    denied(kms.get_key_policy, KeyId=key["KeyId"])
    denied(kms.put_key_policy, KeyId=key["KeyId"], Policy=mine)


@pytest.mark.parametrize(
    ("policy", "code", "message"),
    [
        pytest.param("{not json", "MalformedPolicyDocumentException", None, id="not-json"),
        pytest.param(
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/ghost"},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ]
                }
            ),
            "MalformedPolicyDocumentException",
            "Policy contains a statement with one or more invalid principals.",
            id="unknown-user",
        ),
        pytest.param(
            json.dumps(
                {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}
            ),
            "MalformedPolicyDocumentException",
            None,
            id="bad-effect",
        ),
        pytest.param(
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": ROOT},
                            "Action": "kms:*",
                            "Resource": "*",
                            "Sid": "x" * 32768,
                        }
                    ]
                }
            ),
            "LimitExceededException",
            None,
            id="too-large",
        ),
    ],
)
def test_bad_key_policies_are_refused(kms: Any, policy: str, code: str, message: str | None) -> None:
    key = new_key(kms)
    got_code, got_message, status = aws_error(kms.put_key_policy, KeyId=key["KeyId"], Policy=policy)
    assert (got_code, status) == (code, 400)
    if message is not None:
        assert got_message == message
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == DEFAULT_POLICY


OVERLY_PERMISSIVE = (
    "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key "
    "matches requests without the specified {what} or with an unspecified {what}. "
    "To fix, remove ForAllValues."
)


def test_for_all_values_on_a_single_valued_key_is_refused(server: RunningServer, kms: Any) -> None:
    """AWS KMS Developer Guide, "AWS KMS condition keys": ForAllValues with kms:EncryptionContext:<key> or
    aws:RequestTag/<key> is refused as overly permissive (it matches requests without the pair at all)."""
    key = new_key(kms)
    user = make_identity(server)
    refused = [
        ({"ForAllValues:StringEquals": {"kms:EncryptionContext:tenant": "alice"}}, "encryption context"),
        ({"ForAllValues:StringLike": {"aws:RequestTag/team": "blue*"}}, "tag"),
    ]
    for condition, what in refused:
        text = key_policy({**allow("kms:Encrypt", Condition=condition), "Principal": {"AWS": user.arn}})
        expected = ("MalformedPolicyDocumentException", OVERLY_PERMISSIVE.format(what=what), 400)
        assert aws_error(kms.put_key_policy, KeyId=key["KeyId"], Policy=text) == expected
        assert aws_error(kms.create_key, Policy=text) == expected
        with pytest.raises(IamError) as info:  # and in identity policies
            set_identity_policy(server, user, allow("kms:Encrypt", Condition=condition))
        assert (info.value.code, info.value.message) == ("MalformedPolicyDocument", expected[1])
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == DEFAULT_POLICY

    # Set operators on multivalued keys, ForAnyValue, and plain operators on the single-valued key are fine.
    fine = {
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]},
        "ForAnyValue:StringEquals": {"kms:EncryptionContext:tenant": "alice"},
        "StringEquals": {"kms:EncryptionContext:tenant": "alice"},
    }
    statement = {**allow("kms:Encrypt", Condition=fine), "Principal": {"AWS": user.arn}}
    kms.put_key_policy(KeyId=key["KeyId"], Policy=key_policy(statement))
    user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "alice"})
    denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")  # no context: not allowed
    denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "bob"})


# -- DryRun --------------------------------------------------------------------------------------------------
def test_dry_run_answers_whether_the_call_would_be_allowed(server: RunningServer, kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    user = make_identity(server, allow(["kms:Encrypt", "kms:CreateGrant"]))
    calls: list[tuple[Callable[..., Any], dict[str, Any], bool]] = [
        (user.client.encrypt, {"KeyId": key["KeyId"], "Plaintext": b"x"}, True),
        (user.client.decrypt, {"CiphertextBlob": blob}, False),
        (user.client.generate_data_key, {"KeyId": key["KeyId"], "KeySpec": "AES_256"}, False),
        (
            user.client.create_grant,
            {"KeyId": key["KeyId"], "GranteePrincipal": user.arn, "Operations": ["Decrypt"]},
            True,
        ),
        (user.client.re_encrypt, {"CiphertextBlob": blob, "DestinationKeyId": key["KeyId"]}, False),
    ]
    for call, kwargs, allowed in calls:
        code, message, status = aws_error(call, DryRun=True, **kwargs)
        if allowed:
            assert (code, status) == ("DryRunOperationException", 400), message
            assert message == "The request would have succeeded, but the DryRun option is set."
        else:
            assert (code, status) == ("AccessDeniedException", 400), message
    # No side effect: the allowed CreateGrant made no grant.
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_decrypt_is_authorized_on_the_key_inside_the_blob(server: RunningServer, kms: Any) -> None:
    """Decrypt routes by the key inside the blob: the caller's rights on *that* key decide."""
    key, other = new_key(kms), new_key(kms)
    user = make_identity(server, allow("kms:Decrypt", other["Arn"]))
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert denied(user.client.decrypt, CiphertextBlob=blob) == no_identity_allow(user, "Decrypt", key["Arn"])
    own = kms.encrypt(KeyId=other["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    assert user.client.decrypt(CiphertextBlob=own)["Plaintext"] == b"secret"


def test_bypass_of_the_lockout_check_can_be_denied(server: RunningServer, kms: Any) -> None:
    """kms:BypassPolicyLockoutSafetyCheck: AWS's recommended guard on CreateKey and PutKeyPolicy."""
    bypass = {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}}
    user = make_identity(
        server,
        allow(["kms:CreateKey", "kms:PutKeyPolicy"]),
        deny(["kms:CreateKey", "kms:PutKeyPolicy"], Condition=bypass),
    )
    key = new_key(kms)
    mine = key_policy({"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "kms:*", "Resource": "*"})
    user.client.put_key_policy(KeyId=key["KeyId"], Policy=mine)
    assert denied(
        user.client.put_key_policy, KeyId=key["KeyId"], Policy=mine, BypassPolicyLockoutSafetyCheck=True
    ).endswith("with an explicit deny in an identity-based policy")
    user.client.create_key(Policy=mine)
    denied(user.client.create_key, Policy=mine, BypassPolicyLockoutSafetyCheck=True)


def test_resource_aliases_follow_alias_changes(server: RunningServer, kms: Any) -> None:
    """kms:ResourceAliases is cached per key; every alias change must show in the next decision."""
    key, other = new_key(kms), new_key(kms)
    condition = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/team-blue"}}
    user = make_identity(server, allow("kms:Encrypt", Condition=condition))
    denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    kms.create_alias(AliasName="alias/team-blue", TargetKeyId=key["KeyId"])
    user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    kms.update_alias(AliasName="alias/team-blue", TargetKeyId=other["KeyId"])
    denied(user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    user.client.encrypt(KeyId=other["KeyId"], Plaintext=b"x")
    kms.delete_alias(AliasName="alias/team-blue")
    denied(user.client.encrypt, KeyId=other["KeyId"], Plaintext=b"x")
