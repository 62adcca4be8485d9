"""Policy ``Condition`` evaluation over HTTP with boto3: every condition operator and every condition key the
server supplies, each shown both ways, as AWS KMS evaluates them.

A case is one condition with a call that must be allowed and a call that must be denied. For a request
value (encryption context, grant operations, pending window, tags, the alias in ``KeyId``, ...) the same
caller makes both calls and only the request differs. For a value the caller cannot change from a test
(source IP, current time, caller account, key spec, ``kms:ViaService``), the denied call is the same
request made by a second user whose condition (``other``) does not hold.

By default the condition sits in the caller's identity policy and the key keeps the default key policy,
which delegates to IAM, so the condition alone decides. ``test_condition_in_the_key_policy`` runs a subset
of the same cases with the condition in a key policy statement naming the user, who has no identity policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ACCOUNT_ID, REGION, RunningServer, aws_error
from tests.integration.identities import (
    ACCOUNT_B,
    Identity,
    allow,
    deny,
    key_policy,
    make_identity,
    set_identity_policy,
)

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
NOBODY_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/nobody"
PAST, FUTURE = "2001-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
Y2100 = 4102444800  # epoch seconds of 2100-01-01T00:00:00Z
DAY, DAY_BEFORE, DAY_AFTER = "2030-01-01T00:00:00Z", "2029-12-31T23:59:59Z", "2030-01-01T00:00:01Z"
EC_DEPT = "kms:EncryptionContext:dept"
EC_KEYS = "kms:EncryptionContextKeys"
WINDOW = "kms:ScheduleKeyDeletionPendingWindowInDays"


# -- the keys a case works on ------------------------------------------------------------------------------
@dataclass(frozen=True)
class World:
    kms: Any  # the account root's client
    key: dict[str, Any]  # tagged project=atlas, with the aliases ``alias`` and ``alias2``
    bare: dict[str, Any]  # no tags, no aliases, default key policy
    alias: str
    alias2: str

    def ref(self, how: str) -> str:
        """How a request names ``key``: by id, key ARN, alias name or alias ARN (or the bare key)."""
        return {
            "id": self.key["KeyId"],
            "arn": self.key["Arn"],
            "alias": self.alias,
            "alias-arn": f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{self.alias}",
            "bare": self.bare["KeyId"],
        }[how]


def build_world(kms: Any, policy: str | None = None) -> World:
    extra = {"Policy": policy} if policy is not None else {}
    key = kms.create_key(Tags=[{"TagKey": "project", "TagValue": "atlas"}], **extra)["KeyMetadata"]
    alias, alias2 = f"alias/pch-{key['KeyId']}", f"alias/pch-{key['KeyId']}-b"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    kms.create_alias(AliasName=alias2, TargetKeyId=key["KeyId"])
    return World(kms, key, kms.create_key()["KeyMetadata"], alias, alias2)


# -- calls: (client, world) -> response --------------------------------------------------------------------
Call = Callable[[Any, World], object]


def ec(context: dict[str, str] | None) -> dict[str, Any]:
    return {} if context is None else {"EncryptionContext": context}


def encrypt(context: dict[str, str] | None = None, ref: str = "id", **extra: Any) -> Call:
    return lambda c, w: c.encrypt(KeyId=w.ref(ref), Plaintext=b"x", **ec(context), **extra)


def decrypt(context: dict[str, str] | None = None, ref: str | None = None) -> Call:
    """The admin encrypts under ``context``; the caller decrypts it (naming the key by ``ref`` if given)."""

    def call(c: Any, w: World) -> object:
        blob = w.kms.encrypt(KeyId=w.key["KeyId"], Plaintext=b"x", **ec(context))["CiphertextBlob"]
        named = {} if ref is None else {"KeyId": w.ref(ref)}
        return c.decrypt(CiphertextBlob=blob, **ec(context), **named)

    return call


def data_key(context: dict[str, str] | None = None, ref: str = "id", plaintext: bool = True) -> Call:
    def call(c: Any, w: World) -> object:
        operation = c.generate_data_key if plaintext else c.generate_data_key_without_plaintext
        return operation(KeyId=w.ref(ref), KeySpec="AES_256", **ec(context))

    return call


def describe(ref: str = "id") -> Call:
    return lambda c, w: c.describe_key(KeyId=w.ref(ref))


def reencrypt(same_key: bool) -> Call:
    def call(c: Any, w: World) -> object:
        blob = w.kms.encrypt(KeyId=w.key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        return c.re_encrypt(CiphertextBlob=blob, DestinationKeyId=w.ref("id" if same_key else "bare"))

    return call


def schedule(days: int | None) -> Call:
    """ScheduleKeyDeletion (``None``: the default window); when allowed the admin cancels it at once."""

    def call(c: Any, w: World) -> object:
        window = {} if days is None else {"PendingWindowInDays": days}
        response = c.schedule_key_deletion(KeyId=w.key["KeyId"], **window)
        w.kms.cancel_key_deletion(KeyId=w.key["KeyId"])
        return response

    return call


def grant(operations: tuple[str, ...] = ("Decrypt",), grantee: str = ROOT, **extra: Any) -> Call:
    return lambda c, w: c.create_grant(
        KeyId=w.key["KeyId"], GranteePrincipal=grantee, Operations=list(operations), **extra
    )


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def create_key(tags: dict[str, str] | None = None) -> Call:
    return lambda c, w: c.create_key(**({} if tags is None else {"Tags": tag_list(tags)}))


def tag(tags: dict[str, str]) -> Call:
    return lambda c, w: c.tag_resource(KeyId=w.key["KeyId"], Tags=tag_list(tags))


def untag(*keys: str) -> Call:
    return lambda c, w: c.untag_resource(KeyId=w.key["KeyId"], TagKeys=list(keys))


def with_extra_alias(then: Call) -> Call:
    """The admin gives ``key`` a third alias that does not start with ``alias/pch-``, then ``then`` runs."""

    def call(c: Any, w: World) -> object:
        w.kms.create_alias(AliasName=f"alias/zz-{w.key['KeyId']}", TargetKeyId=w.key["KeyId"])
        return then(c, w)

    return call


# -- cases -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    condition: dict[str, Any]
    allowed: Call
    denied: Call
    actions: tuple[str, ...] = ("kms:Encrypt",)
    action: str = "Encrypt"  # the action the denial names
    on: str = "key"  # the resource the denial names: "key", "bare" or "*" (account-level actions)
    other: dict[str, Any] | None = None  # the denied call's caller has this condition instead


ENC = ("kms:Encrypt",)
DEC = ("kms:Decrypt",)
GRANT = ("kms:CreateGrant",)
SCHEDULE = ("kms:ScheduleKeyDeletion",)
REENCRYPT = ("kms:ReEncryptFrom", "kms:ReEncryptTo")
CREATE = ("kms:CreateKey",)


def sched(condition: dict[str, Any], yes: int | None, no: int) -> Case:
    return Case(condition, schedule(yes), schedule(no), SCHEDULE, "ScheduleKeyDeletion")


def dated(operator: str, yes: str, no: str) -> Case:
    """A date operator on a date carried in the encryption context, to pin the boundary exactly."""
    return Case(
        {operator: {"kms:EncryptionContext:expires": DAY}},
        encrypt({"expires": yes}),
        encrypt({"expires": no}),
    )


OPERATORS: dict[str, Case] = {
    "StringEquals": Case(
        {"StringEquals": {EC_DEPT: "sales"}}, encrypt({"dept": "sales"}), encrypt({"dept": "Sales"})
    ),
    "StringEquals-values-ORed": Case(
        {"StringEquals": {EC_DEPT: ["sales", "hr"]}}, encrypt({"dept": "hr"}), encrypt({"dept": "legal"})
    ),
    "StringEquals-keys-ANDed": Case(
        {"StringEquals": {EC_DEPT: "sales", "kms:EncryptionContext:team": "a"}},
        encrypt({"dept": "sales", "team": "a"}),
        encrypt({"dept": "sales", "team": "b"}),
    ),
    "StringEquals-absent-key-is-false": Case(
        {"StringEquals": {EC_DEPT: "sales"}}, encrypt({"dept": "sales"}), encrypt({"team": "sales"})
    ),
    "StringNotEquals": Case(
        {"StringNotEquals": {EC_DEPT: ["sales", "hr"]}}, encrypt({"dept": "legal"}), encrypt({"dept": "hr"})
    ),
    "StringNotEquals-absent-key-is-true": Case(
        {"StringNotEquals": {EC_DEPT: "sales"}}, encrypt({"team": "x"}), encrypt({"dept": "sales"})
    ),
    "StringLike": Case(
        {"StringLike": {"kms:EncryptionContext:path": "/data/*/report-?.csv"}},
        encrypt({"path": "/data/2024/q1/report-4.csv"}),
        encrypt({"path": "/data/2024/report-10.csv"}),
    ),
    "StringNotLike": Case(
        {"StringNotLike": {EC_DEPT: ["tmp-*", "test?"]}},
        encrypt({"dept": "prod"}),
        encrypt({"dept": "test1"}),
    ),
    "StringEqualsIgnoreCase": Case(
        {"StringEqualsIgnoreCase": {EC_DEPT: "SALES"}}, encrypt({"dept": "SaLeS"}), encrypt({"dept": "sale"})
    ),
    "StringNotEqualsIgnoreCase": Case(
        {"StringNotEqualsIgnoreCase": {EC_DEPT: "SALES"}}, encrypt({"dept": "hr"}), encrypt({"dept": "Sales"})
    ),
    "Bool-true": Case(
        {"Bool": {"kms:ReEncryptOnSameKey": "true"}},
        reencrypt(same_key=True),
        reencrypt(same_key=False),
        REENCRYPT,
        "ReEncryptFrom",
    ),
    "Bool-json-false": Case(
        {"Bool": {"kms:ReEncryptOnSameKey": False}},
        reencrypt(same_key=False),
        reencrypt(same_key=True),
        REENCRYPT,
        "ReEncryptFrom",
    ),
    "Null-true": Case({"Null": {EC_DEPT: "true"}}, encrypt({"team": "x"}), encrypt({"dept": "x"})),
    "Null-false": Case({"Null": {EC_KEYS: False}}, encrypt({"a": "b"}), encrypt()),
    "NumericEquals": sched({"NumericEquals": {WINDOW: "7"}}, 7, 8),
    "NumericNotEquals": sched({"NumericNotEquals": {WINDOW: [7, 30]}}, 8, 30),
    "NumericLessThan": sched({"NumericLessThan": {WINDOW: 10}}, 9, 10),
    "NumericLessThanEquals": sched({"NumericLessThanEquals": {WINDOW: 10}}, 10, 11),
    "NumericGreaterThan": sched({"NumericGreaterThan": {WINDOW: "20"}}, 21, 20),
    "NumericGreaterThanEquals": sched({"NumericGreaterThanEquals": {WINDOW: 20}}, 20, 19),
    "DateEquals": dated("DateEquals", DAY, DAY_AFTER),
    "DateNotEquals": dated("DateNotEquals", DAY_AFTER, DAY),
    "DateLessThan": dated("DateLessThan", DAY_BEFORE, DAY),
    "DateLessThanEquals": dated("DateLessThanEquals", DAY, DAY_AFTER),
    "DateGreaterThan": dated("DateGreaterThan", DAY_AFTER, DAY),
    "DateGreaterThanEquals": dated("DateGreaterThanEquals", DAY, DAY_BEFORE),
    "IpAddress": Case(
        {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}},
        encrypt(),
        encrypt(),
        other={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}},
    ),
    "NotIpAddress": Case(
        {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        encrypt(),
        encrypt(),
        other={"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}},
    ),
    "ArnLike": Case(
        {"ArnLike": {"kms:GranteePrincipal": f"arn:aws:iam::{ACCOUNT_ID}:role/*"}},
        grant(grantee=NOBODY_ROLE),
        grant(grantee=ROOT),
        GRANT,
        "CreateGrant",
    ),
    "ArnEquals": Case(
        {"ArnEquals": {"kms:RetiringPrincipal": ROOT}},
        grant(RetiringPrincipal=ROOT),
        grant(RetiringPrincipal=NOBODY_ROLE),
        GRANT,
        "CreateGrant",
    ),
    "ArnNotLike": Case(
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
        encrypt(),
        encrypt(),
        other={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
    ),
    "ForAnyValue:StringEquals": Case(
        {"ForAnyValue:StringEquals": {EC_KEYS: ["dept", "team"]}},
        encrypt({"x": "1", "team": "2"}),
        encrypt({"x": "1", "y": "2"}),
    ),
    "ForAnyValue-absent-key-is-false": Case(
        {"ForAnyValue:StringEquals": {EC_KEYS: ["dept", "team"]}}, encrypt({"dept": "1"}), encrypt()
    ),
    "ForAllValues:StringEquals": Case(
        {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}},
        grant(("Decrypt", "Encrypt")),
        grant(("Decrypt", "ReEncryptFrom")),
        GRANT,
        "CreateGrant",
    ),
    "ForAllValues-absent-key-is-true": Case(
        {"ForAllValues:StringEquals": {EC_KEYS: ["dept"]}}, encrypt(), encrypt({"x": "1"})
    ),
    "ForAllValues-no-tags-is-true": Case(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        create_key(),
        create_key({"owner": "x"}),
        CREATE,
        "CreateKey",
        "*",
    ),
    "StringEqualsIfExists-absent": Case(
        {"StringEqualsIfExists": {EC_DEPT: "sales"}}, encrypt({"team": "x"}), encrypt({"dept": "hr"})
    ),
    "StringEqualsIfExists-present": Case(
        {"StringEqualsIfExists": {EC_DEPT: "sales"}}, encrypt({"dept": "sales"}), encrypt({"dept": "hr"})
    ),
    "ArnEqualsIfExists-absent": Case(
        {"ArnEqualsIfExists": {"kms:RetiringPrincipal": ROOT}},
        grant(),
        grant(RetiringPrincipal=NOBODY_ROLE),
        GRANT,
        "CreateGrant",
    ),
    "DateLessThanIfExists-absent": Case(
        {"DateLessThanIfExists": {"kms:EncryptionContext:expires": DAY}}, encrypt(), encrypt({"expires": DAY})
    ),
    "operators-ANDed": Case(
        {"StringEquals": {EC_DEPT: "sales"}, "ForAllValues:StringEquals": {EC_KEYS: ["dept"]}},
        encrypt({"dept": "sales"}),
        encrypt({"dept": "sales", "x": "1"}),
    ),
}


KEYS: dict[str, Case] = {
    "kms:EncryptionContext:-Decrypt": Case(
        {"StringEquals": {EC_DEPT: "sales"}},
        decrypt({"dept": "sales"}),
        decrypt({"dept": "hr"}),
        DEC,
        "Decrypt",
    ),
    "kms:EncryptionContext:-GenerateDataKey": Case(
        {"StringEquals": {EC_DEPT: "sales"}},
        data_key({"dept": "sales"}),
        data_key({"dept": "hr"}),
        ("kms:GenerateDataKey",),
        "GenerateDataKey",
    ),
    "kms:EncryptionContext:-key-name-ignores-case": Case(
        {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        encrypt({"appname": "ExampleApp"}),
        encrypt({"APPNAME": "exampleapp"}),
    ),
    "kms:EncryptionContext:-CreateGrant-constraint": Case(
        {"StringEquals": {EC_DEPT: "sales"}},
        grant(Constraints={"EncryptionContextEquals": {"dept": "sales"}}),
        grant(Constraints={"EncryptionContextSubset": {"dept": "hr"}}),
        GRANT,
        "CreateGrant",
    ),
    "kms:EncryptionContextKeys-case-sensitive": Case(
        {"ForAnyValue:StringEquals": {EC_KEYS: "AppName"}},
        encrypt({"AppName": "x"}),
        encrypt({"appname": "x"}),
    ),
    "kms:EncryptionContextKeys-GenerateDataKeyWithoutPlaintext": Case(
        {"ForAnyValue:StringLike": {EC_KEYS: "tenant-*"}},
        data_key({"tenant-id": "1"}, plaintext=False),
        data_key({"tenant": "1"}, plaintext=False),
        ("kms:GenerateDataKeyWithoutPlaintext",),
        "GenerateDataKeyWithoutPlaintext",
    ),
    "kms:EncryptionContextKeys-CreateGrant-constraint": Case(
        {"ForAllValues:StringEquals": {EC_KEYS: ["dept"]}},
        grant(Constraints={"EncryptionContextSubset": {"dept": "sales"}}),
        grant(Constraints={"EncryptionContextSubset": {"dept": "sales", "x": "1"}}),
        GRANT,
        "CreateGrant",
    ),
    "kms:CallerAccount": Case(
        {"StringEquals": {"kms:CallerAccount": ACCOUNT_ID}},
        encrypt(),
        encrypt(),
        other={"StringEquals": {"kms:CallerAccount": ACCOUNT_B}},
    ),
    "kms:GrantOperations-ForAnyValue": Case(
        {"ForAnyValue:StringEquals": {"kms:GrantOperations": ["Encrypt", "ReEncryptTo"]}},
        grant(("Decrypt", "Encrypt")),
        grant(("Decrypt", "DescribeKey")),
        GRANT,
        "CreateGrant",
    ),
    "kms:GrantIsForAWSResource": Case(
        {"Bool": {"kms:GrantIsForAWSResource": "false"}},
        grant(),
        grant(),
        GRANT,
        "CreateGrant",
        other={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    ),
    "kms:KeySpec-key": Case(
        {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        describe(),
        describe(),
        ("kms:DescribeKey",),
        "DescribeKey",
        other={"StringLike": {"kms:KeySpec": "RSA_*"}},
    ),
    "kms:KeySpec-CreateKey-default": Case(
        {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        create_key(),
        create_key(),
        CREATE,
        "CreateKey",
        "*",
        other={"StringEquals": {"kms:KeySpec": "HMAC_256"}},
    ),
    "kms:KeyUsage-key": Case(
        {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT"}},
        encrypt(),
        encrypt(),
        other={"StringEquals": {"kms:KeyUsage": ["SIGN_VERIFY", "GENERATE_VERIFY_MAC"]}},
    ),
    "kms:KeyUsage-CreateKey-default": Case(
        {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT"}},
        create_key(),
        create_key(),
        CREATE,
        "CreateKey",
        "*",
        other={"StringEquals": {"kms:KeyUsage": "SIGN_VERIFY"}},
    ),
    "kms:RequestAlias-alias-name": Case(
        {"StringLike": {"kms:RequestAlias": "alias/pch-*"}}, encrypt(ref="alias"), encrypt(ref="arn")
    ),
    "kms:RequestAlias-alias-arn": Case(
        {"StringLike": {"kms:RequestAlias": "alias/pch-*"}},
        describe("alias-arn"),
        describe("id"),
        ("kms:DescribeKey",),
        "DescribeKey",
    ),
    "kms:RequestAlias-Decrypt": Case(
        {"StringLike": {"kms:RequestAlias": "alias/pch-*"}},
        decrypt(ref="alias"),
        decrypt(),
        DEC,
        "Decrypt",
    ),
    "kms:RequestAlias-Null-with-key-id": Case(
        {"Null": {"kms:RequestAlias": "true"}},
        data_key(ref="arn"),
        data_key(ref="alias"),
        ("kms:GenerateDataKey",),
        "GenerateDataKey",
    ),
    "kms:ResourceAliases-ForAnyValue": Case(
        {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/pch-*-b"}},
        encrypt(ref="id"),
        encrypt(ref="bare"),
        on="bare",
    ),
    "kms:ResourceAliases-ForAllValues-and-ForAnyValue": Case(
        {
            "ForAllValues:StringLike": {"kms:ResourceAliases": "alias/pch-*"},
            "ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/pch-*"},
        },
        encrypt(),
        with_extra_alias(encrypt()),
    ),
    "kms:EncryptionAlgorithm-Encrypt": Case(
        {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        encrypt(EncryptionAlgorithm="SYMMETRIC_DEFAULT"),
        encrypt(EncryptionAlgorithm="RSAES_OAEP_SHA_256"),
    ),
    "kms:EncryptionAlgorithm-Decrypt-default": Case(
        {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        decrypt(),
        decrypt(),
        DEC,
        "Decrypt",
        other={"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}},
    ),
    "kms:EncryptionAlgorithm-GenerateDataKey": Case(
        {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        data_key(),
        data_key(),
        ("kms:GenerateDataKey",),
        "GenerateDataKey",
        other={"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
    ),
    "kms:ViaService-Null-true": Case(
        {"Null": {"kms:ViaService": "true"}},
        encrypt(),
        encrypt(),
        other={"StringEquals": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"}},
    ),
    "kms:ViaService-IfExists": Case(
        {"StringEqualsIfExists": {"kms:ViaService": f"ec2.{REGION}.amazonaws.com"}},
        encrypt(),
        encrypt(),
        other={"Null": {"kms:ViaService": "false"}},
    ),
    "aws:PrincipalArn": Case(
        {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:user/*"}},
        encrypt(),
        encrypt(),
        other={"StringEquals": {"aws:PrincipalArn": ROOT}},
    ),
    "aws:PrincipalAccount": Case(
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID}},
        encrypt(),
        encrypt(),
        other={"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT_ID}},
    ),
    "aws:SourceIp": Case(
        {"IpAddress": {"aws:SourceIp": "127.0.0.1"}},
        encrypt(),
        encrypt(),
        other={"IpAddress": {"aws:SourceIp": "127.0.0.2"}},
    ),
    "aws:CurrentTime-DateGreaterThan": Case(
        {"DateGreaterThan": {"aws:CurrentTime": PAST}},
        encrypt(),
        encrypt(),
        other={"DateGreaterThan": {"aws:CurrentTime": FUTURE}},
    ),
    "aws:CurrentTime-DateLessThanEquals": Case(
        {"DateLessThanEquals": {"aws:CurrentTime": FUTURE}},
        encrypt(),
        encrypt(),
        other={"DateLessThanEquals": {"aws:CurrentTime": PAST}},
    ),
    "aws:CurrentTime-DateNotEquals": Case(
        {"DateNotEquals": {"aws:CurrentTime": PAST}},
        encrypt(),
        encrypt(),
        other={"DateEquals": {"aws:CurrentTime": PAST}},
    ),
    "aws:EpochTime-NumericLessThan": Case(
        {"NumericLessThan": {"aws:EpochTime": Y2100}},
        encrypt(),
        encrypt(),
        other={"NumericGreaterThanEquals": {"aws:EpochTime": str(Y2100)}},
    ),
    "aws:EpochTime-DateGreaterThanEquals": Case(
        {"DateGreaterThanEquals": {"aws:EpochTime": PAST}},
        encrypt(),
        encrypt(),
        other={"DateGreaterThanEquals": {"aws:EpochTime": FUTURE}},
    ),
    "aws:RequestTag-CreateKey": Case(
        {"StringEquals": {"aws:RequestTag/team": "blue"}},
        create_key({"team": "blue", "x": "y"}),
        create_key({"team": "red"}),
        CREATE,
        "CreateKey",
        "*",
    ),
    "aws:RequestTag-TagResource": Case(
        {"StringEquals": {"aws:RequestTag/team": ["blue", "green"]}},
        tag({"team": "green"}),
        tag({"team": "red"}),
        ("kms:TagResource",),
        "TagResource",
    ),
    "aws:TagKeys-ForAnyValue-CreateKey": Case(
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "cost-center"}},
        create_key({"cost-center": "1", "x": "y"}),
        create_key(),
        CREATE,
        "CreateKey",
        "*",
    ),
    "aws:TagKeys-ForAllValues-TagResource": Case(
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        tag({"team": "a", "env": "b"}),
        tag({"team": "a", "owner": "b"}),
        ("kms:TagResource",),
        "TagResource",
    ),
    "aws:TagKeys-UntagResource": Case(
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": "project"}},
        untag("team"),
        untag("team", "project"),
        ("kms:UntagResource",),
        "UntagResource",
    ),
    "aws:ResourceTag": Case(
        {"StringEquals": {"aws:ResourceTag/project": "atlas"}}, encrypt(), encrypt(ref="bare"), on="bare"
    ),
    "aws:ResourceTag-Null-true": Case(
        {"Null": {"aws:ResourceTag/project": "true"}}, encrypt(ref="bare"), encrypt()
    ),
    "kms:ScheduleKeyDeletionPendingWindowInDays-default-30": sched({"NumericEquals": {WINDOW: 30}}, None, 29),
    "kms:GranteePrincipal": Case(
        {"StringEquals": {"kms:GranteePrincipal": ROOT}},
        grant(grantee=ROOT),
        grant(grantee=NOBODY_ROLE),
        GRANT,
        "CreateGrant",
    ),
    "kms:RetiringPrincipal": Case(
        {"StringEquals": {"kms:RetiringPrincipal": [ROOT, NOBODY_ROLE]}},
        grant(RetiringPrincipal=NOBODY_ROLE),
        grant(),
        GRANT,
        "CreateGrant",
    ),
    "kms:GrantConstraintType": Case(
        {"StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals"}},
        grant(Constraints={"EncryptionContextEquals": {"a": "b"}}),
        grant(Constraints={"EncryptionContextSubset": {"a": "b"}}),
        GRANT,
        "CreateGrant",
    ),
    "kms:GrantConstraintType-Null": Case(
        {"Null": {"kms:GrantConstraintType": "true"}},
        grant(),
        grant(Constraints={"EncryptionContextSubset": {"a": "b"}}),
        GRANT,
        "CreateGrant",
    ),
}
KNOWN_BUGS: dict[str, str] = {}

# Cases whose calls all target ``key`` (not account-level, not the bare key) and whose keys work in a key
# policy (kms:ResourceAliases is IAM-only in AWS): run again with the condition in the key policy.
IN_KEY_POLICY = [
    "StringEquals",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "Null-false",
    "NumericLessThan",
    "DateGreaterThanEquals",
    "IpAddress",
    "ArnEquals",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringEquals",
    "ForAllValues-absent-key-is-true",
    "StringEqualsIfExists-absent",
    "kms:EncryptionContext:-Decrypt",
    "kms:CallerAccount",
    "kms:RequestAlias-alias-name",
    "kms:KeyUsage-key",
    "aws:PrincipalArn",
    "aws:CurrentTime-DateGreaterThan",
    "aws:RequestTag-TagResource",
    "kms:GrantConstraintType",
]
ALL_CASES = {**OPERATORS, **KEYS}


def params(names: list[str]) -> list[Any]:
    """One parameter per name (a list: pytest 10 refuses generators), known bugs marked as strict xfails."""
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])] if name in KNOWN_BUGS else [],
        )
        for name in names
    ]


# -- checking ----------------------------------------------------------------------------------------------
def denial(who: Identity, action: str, resource: str, reason: str = "identity") -> str:
    why = {
        "identity": f"because no identity-based policy allows the kms:{action} action",
        "resource": f"because no resource-based policy allows the kms:{action} action",
        "identity-deny": "with an explicit deny in an identity-based policy",
        "resource-deny": "with an explicit deny in a resource-based policy",
    }[reason]
    return f"User: {who.arn} is not authorized to perform: kms:{action} on resource: {resource} {why}"


def assert_denied(call: Call, who: Identity, world: World, message: str) -> None:
    assert aws_error(call, who.client, world) == ("AccessDeniedException", message, 400)


def user_statement(
    who: Identity, actions: tuple[str, ...], condition: dict[str, Any] | None, effect: str = "Allow"
) -> dict[str, Any]:
    """A key policy statement for one user (``condition`` None: unconditional)."""
    statement = {"Effect": effect, "Principal": {"AWS": who.arn}, "Action": list(actions), "Resource": "*"}
    return statement if condition is None else {**statement, "Condition": condition}


def run(server: RunningServer, kms: Any, case: Case, where: str) -> None:
    if where == "identity":
        yes = make_identity(server, allow(list(case.actions), Condition=case.condition))
        no = (
            yes
            if case.other is None
            else make_identity(server, allow(list(case.actions), Condition=case.other))
        )
        world = build_world(kms)
    else:  # the condition in a key policy statement that names the user; no identity policy at all
        yes = make_identity(server)
        no = yes if case.other is None else make_identity(server)
        statements = [user_statement(yes, case.actions, case.condition)]
        if case.other is not None:
            statements.append(user_statement(no, case.actions, case.other))
        world = build_world(kms, key_policy(*statements))
    case.allowed(yes.client, world)
    resource = {"key": world.key["Arn"], "bare": world.bare["Arn"], "*": "*"}[case.on]
    # The key policy's account statement still delegates to IAM, where nothing allows it either.
    assert_denied(case.denied, no, world, denial(no, case.action, resource))


@pytest.mark.parametrize("name", params(list(OPERATORS)))
def test_operator(server: RunningServer, kms: Any, name: str) -> None:
    run(server, kms, OPERATORS[name], "identity")


@pytest.mark.parametrize("name", params(list(KEYS)))
def test_condition_key(server: RunningServer, kms: Any, name: str) -> None:
    run(server, kms, KEYS[name], "identity")


@pytest.mark.parametrize("name", params(IN_KEY_POLICY))
def test_condition_in_the_key_policy(server: RunningServer, kms: Any, name: str) -> None:
    run(server, kms, ALL_CASES[name], "key-policy")


# -- cases that need more than one table row ---------------------------------------------------------------
def test_principal_arn_names_one_caller(server: RunningServer, kms: Any) -> None:
    """Two users with the same policy: StringEquals aws:PrincipalArn lets only the named one in."""
    world = build_world(kms)
    alice, bob = make_identity(server), make_identity(server)
    statement = allow("kms:Encrypt", Condition={"StringEquals": {"aws:PrincipalArn": alice.arn}})
    for who in (alice, bob):
        set_identity_policy(server, who, statement)
    encrypt()(alice.client, world)
    assert_denied(encrypt(), bob, world, denial(bob, "Encrypt", world.key["Arn"]))


def test_policy_variable_in_the_condition_value(server: RunningServer, kms: Any) -> None:
    """The AWS guide's example: each user may only use an encryption context naming themselves."""
    world = build_world(kms)
    condition = {"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}
    alice, bob = (make_identity(server, allow("kms:Encrypt", Condition=condition)) for _ in range(2))
    encrypt({"user": alice.name})(alice.client, world)
    encrypt({"user": bob.name})(bob.client, world)
    assert_denied(encrypt({"user": alice.name}), bob, world, denial(bob, "Encrypt", world.key["Arn"]))


def test_caller_account_of_another_account(server: RunningServer, kms: Any) -> None:
    """kms:CallerAccount and aws:PrincipalAccount in a key policy that shares the key with account B."""
    user_b = make_identity(server, allow(["kms:Encrypt", "kms:DescribeKey"]), account_id=ACCOUNT_B)

    def shared(condition: dict[str, Any]) -> dict[str, Any]:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": condition,
        }
        return kms.create_key(Policy=key_policy(statement))["KeyMetadata"]  # type: ignore[no-any-return]

    good = shared({"StringEquals": {"kms:CallerAccount": ACCOUNT_B, "aws:PrincipalAccount": ACCOUNT_B}})
    user_b.client.encrypt(KeyId=good["Arn"], Plaintext=b"x")
    bad = shared({"StringEquals": {"kms:CallerAccount": ACCOUNT_ID}})
    code, message, status = aws_error(user_b.client.encrypt, KeyId=bad["Arn"], Plaintext=b"x")
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: {user_b.arn} is not authorized to perform: kms:Encrypt on resource: {bad['Arn']} "
        "because no resource-based policy allows the kms:Encrypt action"
    )


def test_resource_aliases_follow_alias_changes(server: RunningServer, kms: Any) -> None:
    """kms:ResourceAliases are the key's current aliases: a created, retargeted or deleted alias counts at
    once."""
    world = build_world(kms)
    name = f"alias/finance-{world.bare['KeyId']}"
    user = make_identity(
        server, allow("kms:Encrypt", Condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": name}})
    )
    on_bare = denial(user, "Encrypt", world.bare["Arn"])
    assert_denied(encrypt(ref="bare"), user, world, on_bare)
    kms.create_alias(AliasName=name, TargetKeyId=world.bare["KeyId"])
    encrypt(ref="bare")(user.client, world)  # by key id: the alias need not be in the request
    kms.update_alias(AliasName=name, TargetKeyId=world.key["KeyId"])
    assert_denied(encrypt(ref="bare"), user, world, on_bare)
    encrypt(ref="id")(user.client, world)
    kms.delete_alias(AliasName=name)
    assert_denied(encrypt(ref="id"), user, world, denial(user, "Encrypt", world.key["Arn"]))


def test_resource_tags_follow_tag_changes(server: RunningServer, kms: Any) -> None:
    world = build_world(kms)
    user = make_identity(
        server, allow("kms:Encrypt", Condition={"StringEquals": {"aws:ResourceTag/stage": "live"}})
    )
    message = denial(user, "Encrypt", world.key["Arn"])
    assert_denied(encrypt(), user, world, message)
    kms.tag_resource(KeyId=world.key["KeyId"], Tags=tag_list({"stage": "live"}))
    encrypt()(user.client, world)
    kms.tag_resource(KeyId=world.key["KeyId"], Tags=tag_list({"stage": "draft"}))
    assert_denied(encrypt(), user, world, message)
    kms.tag_resource(KeyId=world.key["KeyId"], Tags=tag_list({"stage": "live"}))
    kms.untag_resource(KeyId=world.key["KeyId"], TagKeys=["stage"])
    assert_denied(encrypt(), user, world, message)


@pytest.mark.parametrize("where", ["identity", "key-policy"])
def test_deny_with_a_condition(server: RunningServer, kms: Any, where: str) -> None:
    """A Deny applies only where its condition holds; elsewhere the Allow stands."""
    condition = {"StringEquals": {"kms:EncryptionContext:class": "secret"}}
    if where == "identity":
        user = make_identity(server, allow("kms:Encrypt"), deny("kms:Encrypt", Condition=condition))
        world, reason = build_world(kms), "identity-deny"
    else:
        user = make_identity(server)
        policy = key_policy(user_statement(user, ENC, None), user_statement(user, ENC, condition, "Deny"))
        world, reason = build_world(kms, policy), "resource-deny"
    encrypt({"class": "public"})(user.client, world)
    assert_denied(
        encrypt({"class": "secret"}), user, world, denial(user, "Encrypt", world.key["Arn"], reason)
    )


def test_deny_other_encryption_algorithms(server: RunningServer, kms: Any) -> None:
    """The AWS guide's "AllowOnlySymmetricAlgorithm" Deny, on Encrypt: the default algorithm passes."""
    world = build_world(kms)
    user = make_identity(
        server,
        allow("kms:*"),
        deny(
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            Condition={"StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        ),
    )
    encrypt()(user.client, world)
    decrypt()(user.client, world)
    message = denial(user, "Encrypt", world.key["Arn"], "identity-deny")
    assert_denied(encrypt(EncryptionAlgorithm="RSAES_OAEP_SHA_256"), user, world, message)


def test_deny_other_encryption_algorithms_spares_data_keys(server: RunningServer, kms: Any) -> None:
    """The same Deny: per the AWS guide it "has no effect on these operations because they always use a
    symmetric encryption algorithm", so GenerateDataKey* stay allowed."""
    world = build_world(kms)
    user = make_identity(
        server,
        allow("kms:*"),
        deny(
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            Condition={"StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}},
        ),
    )
    data_key()(user.client, world)
    data_key(plaintext=False)(user.client, world)
    message = denial(user, "Encrypt", world.key["Arn"], "identity-deny")
    assert_denied(encrypt(EncryptionAlgorithm="RSAES_OAEP_SHA_256"), user, world, message)
