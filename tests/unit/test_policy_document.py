"""Parsing and validation of key and identity policy documents."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from strongroom.domain.policy import VERSION_2008, VERSION_2012, Effect, PolicyKind, parse_policy
from strongroom.domain.policy.document import refuse_overly_permissive
from strongroom.errors import MalformedPolicyDocumentException

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
# Digest section 9: the default key policy as AWS stores it, in its pretty-printed (Jackson) form.
DEFAULT_KEY_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""
NO_PRINCIPAL = "Policy contains a statement with no principal."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


def key_policy(*statements: dict[str, Any], **top: Any) -> str:
    return json.dumps({"Version": VERSION_2012, **top, "Statement": list(statements)})


def allow(**elements: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*", **elements}


def test_default_key_policy() -> None:
    policy = parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY)
    assert (policy.kind, policy.version, policy.id) == (PolicyKind.KEY, VERSION_2012, "key-default-1")
    (statement,) = policy.statements
    assert statement.sid == "Enable IAM User Permissions"
    assert statement.effect is Effect.ALLOW
    assert statement.principals is not None
    assert statement.principals.names == (ROOT,)
    assert statement.principals.accounts == frozenset({ACCOUNT})
    assert statement.actions is not None and statement.actions.prefixes == ("kms:",)
    assert statement.resources is not None and statement.resources.any
    assert statement.conditions is None
    assert policy.allow_statements == (statement,)
    assert policy.deny_statements == ()


def test_policy_is_immutable() -> None:
    policy = parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.version = VERSION_2008  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.statements[0].effect = Effect.DENY  # type: ignore[misc]


def test_statement_may_be_a_single_object() -> None:
    text = json.dumps({"Version": VERSION_2012, "Statement": allow(Sid="one")})
    (statement,) = parse_policy(text, kind=PolicyKind.KEY).statements
    assert statement.sid == "one"


def test_version_absent_means_2008() -> None:
    text = json.dumps({"Statement": [allow()]})
    assert parse_policy(text, kind=PolicyKind.KEY).version == VERSION_2008
    text = json.dumps({"Version": VERSION_2008, "Statement": [allow()]})
    assert parse_policy(text, kind=PolicyKind.KEY).version == VERSION_2008


def test_deny_and_allow_are_split_and_inert_statements_dropped() -> None:
    deny = allow(Effect="Deny", Sid="d")
    no_action = {"Sid": "inert", "Effect": "Allow", "Principal": "*", "Resource": "*"}
    no_resource = {"Sid": "inert2", "Effect": "Deny", "Principal": "*", "Action": "kms:*"}
    policy = parse_policy(key_policy(allow(Sid="a"), deny, no_action, no_resource), kind=PolicyKind.KEY)
    assert [s.sid for s in policy.statements] == ["a", "d", "inert", "inert2"]
    assert [s.sid for s in policy.allow_statements] == ["a"]
    assert [s.sid for s in policy.deny_statements] == ["d"]
    assert [s.applicable for s in policy.statements] == [True, True, False, False]


def test_empty_statement_list_is_accepted() -> None:
    assert parse_policy(key_policy(), kind=PolicyKind.KEY).statements == ()


PRINCIPALS = [
    pytest.param("*", ("*",), id="star"),
    pytest.param({"AWS": "*"}, ("*",), id="aws-star"),
    pytest.param({"AWS": ACCOUNT}, (ROOT,), id="account-id-normalised"),
    pytest.param({"AWS": ROOT}, (ROOT,), id="root-arn"),
    pytest.param(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}, (f"arn:aws:iam::{ACCOUNT}:user/alice",), id="user"
    ),
    pytest.param(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:user/dev/bob"}, (f"arn:aws:iam::{ACCOUNT}:user/dev/bob",), id="path"
    ),
    pytest.param(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/service/app/Worker"},
        (f"arn:aws:iam::{ACCOUNT}:role/service/app/Worker",),
        id="role-with-path",
    ),
    pytest.param(
        {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/App/session-1"},
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/App/session-1",),
        id="assumed-role-session",
    ),
    pytest.param(
        {"AWS": [ACCOUNT, "444455556666"]},
        (ROOT, "arn:aws:iam::444455556666:root"),
        id="list",
    ),
    pytest.param(
        {"AWS": "arn:aws-cn:iam::111122223333:root"}, ("arn:aws-cn:iam::111122223333:root",), id="cn"
    ),
    pytest.param({"Service": "ec2.amazonaws.com"}, (), id="service-only"),
]


@pytest.mark.parametrize(("principal", "names"), PRINCIPALS)
def test_accepted_principals(principal: Any, names: tuple[str, ...]) -> None:
    text = key_policy({"Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"})
    (statement,) = parse_policy(text, kind=PolicyKind.KEY).statements
    assert statement.principals is not None
    assert statement.principals.names == names


def test_service_principals_are_kept() -> None:
    principal = {"AWS": ROOT, "Service": ["ec2.amazonaws.com", "logs.amazonaws.com"]}
    (statement,) = parse_policy(key_policy(allow(Principal=principal)), kind=PolicyKind.KEY).statements
    assert statement.principals is not None
    assert statement.principals.services == ("ec2.amazonaws.com", "logs.amazonaws.com")


INVALID = [
    pytest.param({"AWS": "alice"}, id="bare-name"),
    pytest.param({"AWS": "11112222333"}, id="account-11-digits"),
    pytest.param({"AWS": "arn:aws:iam::1111:root"}, id="short-account-arn"),
    pytest.param({"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"}, id="wildcard-in-arn"),
    pytest.param({"AWS": f"arn:aws:iam::{ACCOUNT}:group/admins"}, id="group"),
    pytest.param({"AWS": "arn:aws:s3:::bucket"}, id="not-iam"),
    pytest.param({"AWS": ""}, id="empty-string"),
    pytest.param({"AWS": []}, id="empty-list"),
    pytest.param({"AWS": 111122223333}, id="number"),
    pytest.param({}, id="empty-object"),
    pytest.param({"Federated": "cognito-identity.amazonaws.com"}, id="federated"),
    pytest.param({"aws": ROOT}, id="lower-case-type"),
    pytest.param("alice", id="bare-string"),
    pytest.param([ROOT], id="list"),
]


@pytest.mark.parametrize("principal", INVALID)
def test_invalid_principals(principal: Any) -> None:
    text = key_policy({"Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"})
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        parse_policy(text, kind=PolicyKind.KEY)
    assert raised.value.message == INVALID_PRINCIPALS


def test_key_policy_statement_needs_a_principal() -> None:
    text = key_policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        parse_policy(text, kind=PolicyKind.KEY)
    assert raised.value.message == NO_PRINCIPAL


def test_identity_policy_forbids_a_principal() -> None:
    for element in ("Principal", "NotPrincipal"):
        text = key_policy({"Effect": "Deny", element: "*", "Action": "kms:*", "Resource": "*"})
        with pytest.raises(MalformedPolicyDocumentException) as raised:
            parse_policy(text, kind=PolicyKind.IDENTITY)
        assert raised.value.message == "Policy document should not specify a principal."


def test_identity_policy_parses_without_principal() -> None:
    text = key_policy({"Sid": "A", "Effect": "Allow", "Action": ["kms:Encrypt"], "Resource": "*"})
    policy = parse_policy(text, kind=PolicyKind.IDENTITY)
    assert policy.kind is PolicyKind.IDENTITY
    assert policy.statements[0].principals is None


def _top(**top: Any) -> str:
    return json.dumps(top)


MALFORMED_DOCUMENTS = [
    pytest.param("", id="empty"),
    pytest.param("not json", id="not-json"),
    pytest.param('{"Version": "2012-10-17", "Statement": [', id="truncated"),
    pytest.param("[1, 2]", id="array"),
    pytest.param("null", id="null"),
    pytest.param('"policy"', id="string"),
    pytest.param('{"Version": NaN, "Statement": []}', id="nan"),
    pytest.param(
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', id="duplicate-member"
    ),
    pytest.param(_top(Version=VERSION_2012, Statement=[], Foo=1), id="unknown-top-level"),
    pytest.param(_top(version=VERSION_2012, Statement=[]), id="top-level-case"),
    pytest.param(_top(Version="2020-01-01", Statement=[]), id="bad-version"),
    pytest.param(_top(Version=2012, Statement=[]), id="version-number"),
    pytest.param(_top(Version=VERSION_2012, Id=7, Statement=[]), id="id-number"),
    pytest.param(_top(Version=VERSION_2012), id="no-statement"),
    pytest.param(_top(Version=VERSION_2012, Statement="allow"), id="statement-string"),
    pytest.param(_top(Version=VERSION_2012, Statement=["x"]), id="statement-item-string"),
    pytest.param(key_policy(allow(Actions="kms:*")), id="unknown-element"),
    pytest.param(key_policy({**allow(), "effect": "Allow"}), id="element-case"),
    pytest.param(key_policy(allow(Effect="allow")), id="effect-case"),
    pytest.param(key_policy(allow(Effect="Permit")), id="effect-unknown"),
    pytest.param(key_policy({k: v for k, v in allow().items() if k != "Effect"}), id="effect-missing"),
    pytest.param(key_policy(allow(Sid=1)), id="sid-number"),
    pytest.param(key_policy(allow(NotAction="kms:Decrypt")), id="action-and-notaction"),
    pytest.param(key_policy(allow(NotResource="*")), id="resource-and-notresource"),
    pytest.param(key_policy(allow(NotPrincipal={"AWS": ROOT})), id="principal-and-notprincipal"),
    pytest.param(
        key_policy({"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}),
        id="notprincipal-with-allow",
    ),
    pytest.param(key_policy(allow(Action=[])), id="action-empty-list"),
    pytest.param(key_policy(allow(Action=7)), id="action-number"),
    pytest.param(key_policy(allow(Action="")), id="action-empty-string"),
    pytest.param(key_policy(allow(Action="Encrypt")), id="action-without-prefix"),
    pytest.param(key_policy(allow(Action=["kms:Encrypt", None])), id="action-null-item"),
    pytest.param(key_policy(allow(Resource="key/1234")), id="resource-not-arn"),
    pytest.param(key_policy(allow(Resource={"arn": "x"})), id="resource-object"),
    pytest.param(key_policy(allow(Condition={"StringEqualz": {"k": "v"}})), id="unknown-condition-operator"),
    pytest.param(key_policy(allow(Condition=["x"])), id="condition-not-object"),
    pytest.param(key_policy(allow(Condition={"NumericEquals": {"k": "x"}})), id="condition-bad-number"),
]


@pytest.mark.parametrize("text", MALFORMED_DOCUMENTS)
def test_malformed_documents(text: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        parse_policy(text, kind=PolicyKind.KEY)
    assert raised.value.message
    assert raised.value.code == "MalformedPolicyDocumentException"


MALFORMED_IDENTITY = [
    pytest.param(key_policy({"Effect": "Allow", "Action": "kms:*"}), id="no-resource"),
    pytest.param(key_policy({"Effect": "Allow", "Resource": "*"}), id="no-action"),
    pytest.param(
        key_policy(
            {"Sid": "S", "Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Sid": "S", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        ),
        id="duplicate-sid",
    ),
]


@pytest.mark.parametrize("text", MALFORMED_IDENTITY)
def test_malformed_identity_policies(text: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException):
        parse_policy(text, kind=PolicyKind.IDENTITY)


def test_duplicate_sids_are_allowed_in_key_policies() -> None:
    policy = parse_policy(key_policy(allow(Sid="S"), allow(Sid="S")), kind=PolicyKind.KEY)
    assert [s.sid for s in policy.statements] == ["S", "S"]


def test_action_patterns_are_compiled_to_cheap_tests() -> None:
    actions = ["kms:Encrypt", "kms:Generate*", "kms:Describe?ey", "*:Decrypt"]
    (statement,) = parse_policy(key_policy(allow(Action=actions)), kind=PolicyKind.KEY).statements
    compiled = statement.actions
    assert compiled is not None
    assert compiled.exact == frozenset({"kms:encrypt"})
    assert compiled.prefixes == ("kms:generate",)
    assert compiled.regex is not None
    assert not compiled.any


# -- ForAllValues on a single-valued key (AWS KMS Developer Guide, "AWS KMS condition keys") ---------------
def _overly_permissive(what: str) -> str:
    return (
        "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key "
        f"matches requests without the specified {what} or with an unspecified {what}. To fix, remove "
        "ForAllValues."
    )


def _identity(condition: dict[str, Any], effect: str = "Allow") -> str:
    statement = {"Effect": effect, "Action": "kms:*", "Resource": "*", "Condition": condition}
    return json.dumps({"Version": VERSION_2012, "Statement": [statement]})


REFUSED_SET_OPERATORS = [
    ({"ForAllValues:StringEquals": {"kms:EncryptionContext:tenant": "a"}}, "encryption context"),
    ({"forallvalues:stringlike": {"KMS:ENCRYPTIONCONTEXT:Tenant": "a*"}}, "encryption context"),
    (
        {"ForAllValues:StringNotEqualsIfExists": {"kms:EncryptionContext:dept": ["x", "y"]}},
        "encryption context",
    ),
    ({"ForAllValues:StringEquals": {"aws:RequestTag/team": "blue"}}, "tag"),
    (
        {"StringEquals": {"kms:KeySpec": "RSA_2048"}, "ForAllValues:StringLike": {"aws:requesttag/env": "*"}},
        "tag",
    ),
]


@pytest.mark.parametrize(("condition", "what"), REFUSED_SET_OPERATORS, ids=lambda c: json.dumps(c))
@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_for_all_values_on_a_single_valued_key_is_refused(
    condition: dict[str, Any], what: str, effect: str
) -> None:
    key_text = key_policy(allow(), {**allow(Condition=condition), "Effect": effect})
    for text, kind in ((key_text, PolicyKind.KEY), (_identity(condition, effect), PolicyKind.IDENTITY)):
        policy = parse_policy(text, kind=kind)  # a stored policy still loads and is evaluated as written
        with pytest.raises(MalformedPolicyDocumentException) as info:
            refuse_overly_permissive(policy)
        assert info.value.message == _overly_permissive(what)


ACCEPTED_SET_OPERATORS = [
    {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app", "team"]}},
    {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": "tea*"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
    {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}},
    {"ForAllValues:StringLike": {"kms:ResourceAliases": "alias/app-*"}},
    # not what AWS KMS refuses: ForAnyValue on them, and other single-valued keys
    {"ForAnyValue:StringEquals": {"kms:EncryptionContext:tenant": "a"}},
    {"ForAnyValue:StringEquals": {"aws:RequestTag/team": "blue"}},
    {"ForAllValues:StringEquals": {"kms:CallerAccount": ACCOUNT}},
    {"ForAllValues:StringEquals": {"aws:ResourceTag/team": "blue"}},
    {"StringEquals": {"kms:EncryptionContext:tenant": "a", "aws:RequestTag/team": "blue"}},
]


@pytest.mark.parametrize("condition", ACCEPTED_SET_OPERATORS, ids=lambda c: json.dumps(c))
def test_set_operators_aws_accepts(condition: dict[str, Any]) -> None:
    refuse_overly_permissive(parse_policy(key_policy(allow(Condition=condition)), kind=PolicyKind.KEY))
    refuse_overly_permissive(parse_policy(_identity(condition), kind=PolicyKind.IDENTITY))


def test_the_default_key_policy_passes_the_set_operator_check() -> None:
    refuse_overly_permissive(parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY))
