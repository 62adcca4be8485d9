"""Policy conditions over HTTP: each operator and each condition key, allowed one way and denied the other.

Each case gives an IAM user an identity policy that allows some actions under a condition. A user whose
condition holds makes the ``yes`` call, which must succeed; a user whose condition fails (the same
condition with another request, or another condition with the same request) makes the ``no`` call, which
must get AccessDeniedException. The default key policy delegates to IAM, so the condition decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from strongroom.cli.iam import open_admin
from tests.conftest import ACCOUNT_ID, RunningServer, aws_error
from tests.integration.identities import Identity, allow, key_policy, make_identity
from tests.integration.signing import call

OTHER_ACCOUNT = "444455556666"
PAST, FUTURE = "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"


@dataclass
class Env:
    kms: Any  # the account root's client
    key: dict[str, Any]  # tagged env=prod, aliased ``alias``
    other: dict[str, Any]  # an untagged key without aliases
    alias: str
    me: Identity


Call = Callable[[Any, Env], Any]


@dataclass(frozen=True)
class Case:
    actions: list[str]
    condition: dict[str, Any]
    yes: Call
    no: Call
    no_condition: dict[str, Any] | None = None  # if set, the ``no`` call is made by a user with this


def enc(context: dict[str, str] | None = None, **kwargs: Any) -> Call:
    return lambda c, e: c.encrypt(
        KeyId=e.key["KeyId"], Plaintext=b"x", EncryptionContext=context or {}, **kwargs
    )


def schedule(days: int) -> Call:
    def call(c: Any, e: Env) -> None:
        c.schedule_key_deletion(KeyId=e.key["KeyId"], PendingWindowInDays=days)
        e.kms.cancel_key_deletion(KeyId=e.key["KeyId"])

    return call


def grant(operations: list[str], **kwargs: Any) -> Call:
    return lambda c, e: c.create_grant(
        KeyId=e.key["KeyId"], GranteePrincipal=e.me.arn, Operations=operations, **kwargs
    )


def create_key(tags: dict[str, str]) -> Call:
    return lambda c, e: c.create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])


def reencrypt(same: bool) -> Call:
    def call(c: Any, e: Env) -> None:
        blob = e.kms.encrypt(KeyId=e.key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        c.re_encrypt(CiphertextBlob=blob, DestinationKeyId=e.key["KeyId"] if same else e.other["KeyId"])

    return call


APP = "kms:EncryptionContext:app"
ENCRYPT = ["kms:Encrypt"]

OPERATORS: dict[str, Case] = {
    "StringEquals": Case(
        ENCRYPT, {"StringEquals": {APP: "billing"}}, enc({"app": "billing"}), enc({"app": "Billing"})
    ),
    "StringNotEquals": Case(
        ENCRYPT, {"StringNotEquals": {APP: "billing"}}, enc({"app": "hr"}), enc({"app": "billing"})
    ),
    "StringLike": Case(
        ENCRYPT, {"StringLike": {APP: "bill*-?u"}}, enc({"app": "billing-eu"}), enc({"app": "billing-eur"})
    ),
    "StringNotLike": Case(
        ENCRYPT, {"StringNotLike": {APP: "bill*"}}, enc({"app": "hr"}), enc({"app": "billing"})
    ),
    "StringEqualsIgnoreCase": Case(
        ENCRYPT, {"StringEqualsIgnoreCase": {APP: "BILLING"}}, enc({"app": "billing"}), enc({"app": "hr"})
    ),
    "StringNotEqualsIgnoreCase": Case(
        ENCRYPT, {"StringNotEqualsIgnoreCase": {APP: "BILLING"}}, enc({"app": "hr"}), enc({"app": "Billing"})
    ),
    "Bool": Case(
        ["kms:ReEncryptFrom", "kms:ReEncryptTo"],
        {"Bool": {"kms:ReEncryptOnSameKey": "true"}},
        reencrypt(same=True),
        reencrypt(same=False),
        no_condition={"Bool": {"kms:ReEncryptOnSameKey": "true"}},
    ),
    "Null-false": Case(ENCRYPT, {"Null": {APP: "false"}}, enc({"app": "x"}), enc({"other": "x"})),
    "Null-true": Case(ENCRYPT, {"Null": {APP: "true"}}, enc({"other": "x"}), enc({"app": "x"})),
    "NumericEquals": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "7"}},
        schedule(7),
        schedule(8),
    ),
    "NumericNotEquals": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericNotEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 7}},
        schedule(8),
        schedule(7),
    ),
    "NumericLessThan": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 10}},
        schedule(9),
        schedule(10),
    ),
    "NumericLessThanEquals": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericLessThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 10}},
        schedule(10),
        schedule(11),
    ),
    "NumericGreaterThan": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericGreaterThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 20}},
        schedule(21),
        schedule(20),
    ),
    "NumericGreaterThanEquals": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 20}},
        schedule(20),
        schedule(19),
    ),
    "DateEquals": Case(
        ENCRYPT,
        {"DateNotEquals": {"aws:CurrentTime": PAST}},
        enc(),
        enc(),
        no_condition={"DateEquals": {"aws:CurrentTime": PAST}},
    ),
    "DateLessThan": Case(
        ENCRYPT,
        {"DateLessThan": {"aws:CurrentTime": FUTURE}},
        enc(),
        enc(),
        no_condition={"DateLessThan": {"aws:CurrentTime": PAST}},
    ),
    "DateLessThanEquals": Case(
        ENCRYPT,
        {"DateLessThanEquals": {"aws:CurrentTime": FUTURE}},
        enc(),
        enc(),
        no_condition={"DateLessThanEquals": {"aws:CurrentTime": PAST}},
    ),
    "DateGreaterThan": Case(
        ENCRYPT,
        {"DateGreaterThan": {"aws:CurrentTime": PAST}},
        enc(),
        enc(),
        no_condition={"DateGreaterThan": {"aws:CurrentTime": FUTURE}},
    ),
    "DateGreaterThanEquals": Case(
        ENCRYPT,
        {"DateGreaterThanEquals": {"aws:CurrentTime": "946684800"}},
        enc(),
        enc(),
        no_condition={"DateGreaterThanEquals": {"aws:CurrentTime": FUTURE}},
    ),
    "IpAddress": Case(
        ENCRYPT,
        {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
        enc(),
        enc(),
        no_condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    ),
    "NotIpAddress": Case(
        ENCRYPT,
        {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}},
        enc(),
        enc(),
        no_condition={"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}},
    ),
    "ArnLike": Case(
        ENCRYPT,
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:user/*"}},
        enc(),
        enc(),
        no_condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/*"}},
    ),
    "ArnEquals": Case(
        ENCRYPT,
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:user/user*"}},
        enc(),
        enc(),
        no_condition={"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::*:user/user*"}},
    ),
    "ForAnyValue": Case(
        ENCRYPT,
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["app", "team"]}},
        enc({"x": "1", "app": "2"}),
        enc({"x": "1"}),
    ),
    "ForAllValues": Case(
        ENCRYPT,
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app", "team"]}},
        enc({"team": "1"}),
        enc({"team": "1", "x": "2"}),
    ),
    "ForAllValues-empty": Case(
        ENCRYPT,
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app"]}},
        enc({}),
        enc({"x": "1"}),
    ),
    "IfExists-absent": Case(ENCRYPT, {"StringEqualsIfExists": {APP: "billing"}}, enc({}), enc({"app": "hr"})),
    "IfExists-present": Case(
        ENCRYPT, {"StringEqualsIfExists": {APP: "billing"}}, enc({"app": "billing"}), enc({"app": "hr"})
    ),
}

GRANT = ["kms:CreateGrant"]
KEYS: dict[str, Case] = {
    "kms:EncryptionContext": Case(
        ENCRYPT, {"StringEquals": {"kms:EncryptionContext:team": "a"}}, enc({"team": "a"}), enc({"team": "b"})
    ),
    "kms:EncryptionContextKeys": Case(
        ENCRYPT,
        {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "tea*"}},
        enc({"team": "a"}),
        enc({"app": "a"}),
    ),
    "kms:CallerAccount": Case(
        ENCRYPT,
        {"StringEquals": {"kms:CallerAccount": ACCOUNT_ID}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"kms:CallerAccount": OTHER_ACCOUNT}},
    ),
    "kms:GrantOperations": Case(
        GRANT,
        {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}},
        grant(["Decrypt"]),
        grant(["Decrypt", "GenerateDataKey"]),
    ),
    "kms:GrantIsForAWSResource": Case(
        GRANT,
        {"Bool": {"kms:GrantIsForAWSResource": "false"}},
        grant(["Decrypt"]),
        grant(["Decrypt"]),
        no_condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    ),
    "kms:GranteePrincipal": Case(
        GRANT,
        {"StringLike": {"kms:GranteePrincipal": "*:user/*"}},
        grant(["Decrypt"]),
        grant(["Decrypt"]),
        no_condition={"StringLike": {"kms:GranteePrincipal": "*:role/*"}},
    ),
    "kms:RetiringPrincipal": Case(
        GRANT,
        {"StringEquals": {"kms:RetiringPrincipal": f"arn:aws:iam::{ACCOUNT_ID}:root"}},
        grant(["Decrypt"], RetiringPrincipal=f"arn:aws:iam::{ACCOUNT_ID}:root"),
        grant(["Decrypt"]),
    ),
    "kms:GrantConstraintType": Case(
        GRANT,
        {"StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals"}},
        grant(["Decrypt"], Constraints={"EncryptionContextEquals": {"a": "b"}}),
        grant(["Decrypt"], Constraints={"EncryptionContextSubset": {"a": "b"}}),
    ),
    "kms:EncryptionContext-on-CreateGrant": Case(
        GRANT,
        {"StringEquals": {"kms:EncryptionContext:a": "b"}},
        grant(["Decrypt"], Constraints={"EncryptionContextSubset": {"a": "b"}}),
        grant(["Decrypt"], Constraints={"EncryptionContextSubset": {"a": "c"}}),
    ),
    "kms:KeySpec": Case(
        ENCRYPT,
        {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"kms:KeySpec": "RSA_2048"}},
    ),
    "kms:KeyUsage": Case(
        ENCRYPT,
        {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT"}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"kms:KeyUsage": "SIGN_VERIFY"}},
    ),
    "kms:RequestAlias": Case(
        ENCRYPT,
        {"StringLike": {"kms:RequestAlias": "alias/cond-*"}},
        lambda c, e: c.encrypt(KeyId=e.alias, Plaintext=b"x"),
        enc(),
    ),
    "kms:ResourceAliases": Case(
        ENCRYPT,
        {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/cond-*"}},
        enc(),
        lambda c, e: c.encrypt(KeyId=e.other["KeyId"], Plaintext=b"x"),
    ),
    "kms:EncryptionAlgorithm": Case(
        ENCRYPT + ["kms:Decrypt"],
        {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        enc(EncryptionAlgorithm="SYMMETRIC_DEFAULT"),
        enc(),
        no_condition={"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
    ),
    "kms:ViaService": Case(
        ENCRYPT,
        {"Null": {"kms:ViaService": "true"}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}},
    ),
    "aws:PrincipalArn": Case(
        ENCRYPT,
        {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:user/*"}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:root"}},
    ),
    "aws:PrincipalAccount": Case(
        ENCRYPT,
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID}},
        enc(),
        enc(),
        no_condition={"StringEquals": {"aws:PrincipalAccount": OTHER_ACCOUNT}},
    ),
    "aws:SourceIp": Case(
        ENCRYPT,
        {"IpAddress": {"aws:SourceIp": "127.0.0.1"}},
        enc(),
        enc(),
        no_condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
    ),
    "aws:CurrentTime": Case(
        ENCRYPT,
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}},
        enc(),
        enc(),
        no_condition={"DateGreaterThan": {"aws:CurrentTime": "2999-01-01"}},
    ),
    "aws:EpochTime": Case(
        ENCRYPT,
        {"NumericGreaterThan": {"aws:EpochTime": 946684800}},
        enc(),
        enc(),
        no_condition={"NumericLessThan": {"aws:EpochTime": 946684800}},
    ),
    "aws:RequestTag": Case(
        ["kms:CreateKey"],
        {"StringEquals": {"aws:RequestTag/team": "blue"}},
        create_key({"team": "blue"}),
        create_key({"team": "red"}),
    ),
    "aws:TagKeys": Case(
        ["kms:TagResource"],
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        lambda c, e: c.tag_resource(KeyId=e.key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "x"}]),
        lambda c, e: c.tag_resource(KeyId=e.key["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "x"}]),
    ),
    "aws:ResourceTag": Case(
        ENCRYPT,
        {"StringEquals": {"aws:ResourceTag/env": "prod"}},
        enc(),
        lambda c, e: c.encrypt(KeyId=e.other["KeyId"], Plaintext=b"x"),
    ),
    "kms:ScheduleKeyDeletionPendingWindowInDays": Case(
        ["kms:ScheduleKeyDeletion"],
        {"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}},
        schedule(30),
        schedule(7),
    ),
}


@pytest.fixture
def env(server: RunningServer, kms: Any) -> Env:
    key = kms.create_key(Tags=[{"TagKey": "env", "TagValue": "prod"}])["KeyMetadata"]
    alias = f"alias/cond-{key['KeyId'][:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    other = kms.create_key()["KeyMetadata"]
    return Env(kms, key, other, alias, make_identity(server))


def check(server: RunningServer, env: Env, case: Case) -> None:
    yes = make_identity(server, allow(case.actions, Condition=case.condition))
    no = yes
    if case.no_condition is not None:
        no = make_identity(server, allow(case.actions, Condition=case.no_condition))
    code, message, status = aws_error(case.no, no.client, env)
    assert (code, status) == ("AccessDeniedException", 400), message
    assert message.startswith(f"User: {no.arn} is not authorized to perform: kms:")
    assert message.endswith(
        "because no identity-based policy allows the " + message.split(" ")[7] + " action"
    )
    case.yes(yes.client, env)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_operator(server: RunningServer, env: Env, name: str) -> None:
    check(server, env, OPERATORS[name])


@pytest.mark.parametrize("name", list(KEYS))
def test_condition_key(server: RunningServer, env: Env, name: str) -> None:
    check(server, env, KEYS[name])


def test_conditions_in_the_key_policy(server: RunningServer, kms: Any) -> None:
    """The same evaluation in a key policy statement that names the user: no identity policy needed."""
    user = make_identity(server)
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": user.arn},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:EncryptionContext:tenant": "t1"},
            "IpAddress": {"aws:SourceIp": "127.0.0.1"},
        },
    }
    key = kms.create_key(Policy=key_policy(statement))["KeyMetadata"]
    blob = user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "t1"})
    assert user.client.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"tenant": "t1"})
    code, message, _ = aws_error(
        user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "t2"}
    )
    assert code == "AccessDeniedException"
    assert message == (
        f"User: {user.arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
        # The key policy's account statement delegates to IAM, where nothing allows it either.
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_deny_with_a_condition(server: RunningServer, kms: Any) -> None:
    """A Deny applies only where its condition holds; elsewhere the Allow stands."""
    key = kms.create_key()["KeyMetadata"]
    user = make_identity(
        server,
        allow("kms:Encrypt"),
        {
            "Effect": "Deny",
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {APP: "secret"}},
        },
    )
    user.client.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "public"})
    code, message, _ = aws_error(
        user.client.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "secret"}
    )
    assert code == "AccessDeniedException" and message.endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_context_keys_differing_only_in_case_cannot_widen_a_condition(
    server: RunningServer, kms: Any
) -> None:
    """``kms:EncryptionContext:tenant`` matches both ``tenant`` and ``Tenant``: each pair must satisfy an
    Allow's condition, any pair triggers a Deny's, whatever the order of the pairs in the request."""
    user = make_identity(server)
    only_alice = {
        "Effect": "Allow",
        "Principal": {"AWS": user.arn},
        "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "alice"}},
    }
    key = kms.create_key(Policy=key_policy(only_alice))["KeyMetadata"]
    client = user.client
    client.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"tenant": "alice"})
    client.generate_data_key(
        KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"tenant": "alice", "Tenant": "alice"}
    )
    for context in ({"tenant": "bob", "Tenant": "alice"}, {"Tenant": "alice", "tenant": "bob"}):
        code, _, _ = aws_error(
            client.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=context
        )
        assert code == "AccessDeniedException", context

    # A Deny on "not alice" applies as soon as one of the pairs is not alice.
    deny_others = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:EncryptionContext:tenant": "alice"}},
    }
    allow_user = {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "kms:Encrypt", "Resource": "*"}
    guarded = kms.create_key(Policy=key_policy(allow_user, deny_others))["KeyMetadata"]
    client.encrypt(KeyId=guarded["KeyId"], Plaintext=b"x", EncryptionContext={"tenant": "alice"})
    for context in ({"tenant": "alice", "Tenant": "bob"}, {"Tenant": "bob", "tenant": "alice"}):
        code, message, _ = aws_error(
            client.encrypt, KeyId=guarded["KeyId"], Plaintext=b"x", EncryptionContext=context
        )
        assert code == "AccessDeniedException" and message.endswith(
            "with an explicit deny in a resource-based policy"
        ), context


def test_a_repeated_context_key_in_the_body_never_widens_a_condition(server: RunningServer, kms: Any) -> None:
    """``{"tenant": "alice", "tenant": "bob"}`` has no single reading; it must never pass as alice."""
    user = make_identity(server)
    only_alice = {
        "Effect": "Allow",
        "Principal": {"AWS": user.arn},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "alice"}},
    }
    key = kms.create_key(Policy=key_policy(only_alice))["KeyMetadata"]
    with open_admin(server.data_dir, ACCOUNT_ID) as admin:
        access_key = admin.create_access_key(user.kind, user.name)
    context = '{"tenant": "alice", "tenant": "bob"}'  # a JSON text json.dumps could not produce
    body = f'{{"KeyId": {json.dumps(key["KeyId"])}, "KeySpec": "AES_256", "EncryptionContext": {context}}}'
    body_bytes = body.encode()
    status, answer = call(
        server.endpoint, "GenerateDataKey", body_bytes, key=access_key.access_key_id, secret=access_key.secret
    )
    # Refused as a malformed body once the protocol layer parses with parse_request_json; until then the
    # last value wins everywhere (bob), and the policy denies it.
    assert status == 400 and answer["__type"] in ("SerializationException", "AccessDeniedException"), answer
