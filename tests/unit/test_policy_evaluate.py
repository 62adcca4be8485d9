"""Evaluation of compiled policies: matching, precedence and the account-delegation flag."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.domain.policy import (
    VERSION_2008,
    VERSION_2012,
    AuthorizationRequest,
    PolicyKind,
    PolicyResult,
    StatementOutcome,
    evaluate_policy,
    evaluate_statement,
    parse_policy,
)

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
DEFAULT_KEY_POLICY = (
    '{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",'
    '"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}'
)

NOTHING = PolicyResult(explicit_deny=False, allowed=False, allowed_via_account=False)
DENIED = PolicyResult(explicit_deny=True, allowed=False, allowed_via_account=False)
ALLOWED = PolicyResult(explicit_deny=False, allowed=True, allowed_via_account=False)
VIA_ACCOUNT = PolicyResult(explicit_deny=False, allowed=False, allowed_via_account=True)


def request(
    principal: str = ALICE, action: str = "kms:Encrypt", resource: str = KEY, **context: Any
) -> AuthorizationRequest:
    account = principal.split(":")[4]
    return AuthorizationRequest(principal, account, action, resource, context)


def key_policy(*statements: dict[str, Any], version: str = VERSION_2012) -> Any:
    return parse_policy(json.dumps({"Version": version, "Statement": list(statements)}), kind=PolicyKind.KEY)


def identity_policy(*statements: dict[str, Any]) -> Any:
    return parse_policy(
        json.dumps({"Version": VERSION_2012, "Statement": list(statements)}), kind=PolicyKind.IDENTITY
    )


def stmt(effect: str = "Allow", principal: Any = "*", **elements: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": "kms:*", "Resource": "*"}
    out.update(elements)
    return out


# -- the default key policy ---------------------------------------------------------------------------------
DEFAULT_CASES = [
    pytest.param(ROOT, "kms:Encrypt", ALLOWED, id="account-root-directly"),
    pytest.param(ROOT, "kms:PutKeyPolicy", ALLOWED, id="root-can-put-policy-lockout-check"),
    pytest.param(ALICE, "kms:Encrypt", VIA_ACCOUNT, id="user-delegated-to-iam"),
    pytest.param(f"arn:aws:iam::{ACCOUNT}:role/App", "kms:Decrypt", VIA_ACCOUNT, id="role-delegated-to-iam"),
    pytest.param(f"arn:aws:iam::{OTHER}:user/eve", "kms:Encrypt", NOTHING, id="other-account-user"),
    pytest.param(f"arn:aws:iam::{OTHER}:root", "kms:Encrypt", NOTHING, id="other-account-root"),
    pytest.param(ROOT, "s3:GetObject", NOTHING, id="other-service"),
    pytest.param(ROOT, "KMS:encrypt", ALLOWED, id="action-case-insensitive"),
]


@pytest.mark.parametrize(("principal", "action", "expected"), DEFAULT_CASES)
def test_default_key_policy(principal: str, action: str, expected: PolicyResult) -> None:
    policy = parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY)
    assert evaluate_policy(policy, request(principal, action)) == expected


def test_default_key_policy_matches_any_resource_even_star() -> None:
    policy = parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY)
    assert evaluate_policy(policy, request(ROOT, "kms:GenerateRandom", "*")) == ALLOWED


# -- actions ----------------------------------------------------------------------------------------------
ACTIONS = [
    ("kms:*", "kms:Encrypt", True),
    ("*", "kms:Encrypt", True),
    ("kms:Generate*", "kms:GenerateDataKeyPair", True),
    ("kms:Generate*", "kms:Encrypt", False),
    ("kms:Describe?ey", "kms:DescribeKey", True),
    ("kms:Describe?ey", "kms:DescribeKKey", False),
    ("KMS:ENCRYPT", "kms:Encrypt", True),
    ("kms:encrypt", "KMS:Encrypt", True),
    ("kms:*Key", "kms:DescribeKey", True),
    ("kms:*Key", "kms:Encrypt", False),
    ("kms:Encrypt", "kms:EncryptX", False),
    ("kms:Encrypt", "kms:Encryp", False),
    ("s3:*", "kms:Encrypt", False),
    ("kms:Re*", "kms:ReEncryptFrom", True),
    ("kms:*crypt", "kms:Decrypt", True),
    ("kms:*crypt", "kms:ReEncryptFrom", False),
]


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTIONS)
def test_action_wildcards(pattern: str, action: str, matches: bool) -> None:
    policy = key_policy(stmt(Action=pattern))
    assert evaluate_policy(policy, request(action=action)).allowed is matches
    negated = key_policy({"Effect": "Allow", "Principal": "*", "NotAction": pattern, "Resource": "*"})
    assert evaluate_policy(negated, request(action=action)).allowed is (not matches)


# -- resources --------------------------------------------------------------------------------------------
RESOURCES = [
    ("*", KEY, True),
    ("*", "*", True),
    (KEY, KEY, True),
    (KEY, OTHER_KEY, False),
    (f"arn:aws:kms:*:{ACCOUNT}:key/*", KEY, True),
    (f"arn:aws:kms:*:{OTHER}:key/*", KEY, False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:KEY/*", KEY, False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-*", KEY, True),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890a?", KEY, True),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890?", KEY, False),
    ("arn:aws:kms:*", KEY, True),
    ("arn:aws:kms:*", "*", False),
    (f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/*", KEY, False),
]


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCES)
def test_resource_wildcards(pattern: str, resource: str, matches: bool) -> None:
    policy = key_policy(stmt(Resource=pattern))
    assert evaluate_policy(policy, request(resource=resource)).allowed is matches
    negated = key_policy({"Effect": "Allow", "Principal": "*", "Action": "kms:*", "NotResource": pattern})
    assert evaluate_policy(negated, request(resource=resource)).allowed is (not matches)


# -- principals -------------------------------------------------------------------------------------------
ALLOW_PRINCIPALS = [
    pytest.param("*", f"arn:aws:iam::{OTHER}:user/eve", ALLOWED, id="star-anyone"),
    pytest.param({"AWS": "*"}, ALICE, ALLOWED, id="aws-star"),
    pytest.param({"AWS": ALICE}, ALICE, ALLOWED, id="user-named"),
    pytest.param({"AWS": ALICE}, BOB, NOTHING, id="other-user"),
    pytest.param({"AWS": [ALICE, ACCOUNT]}, ALICE, ALLOWED, id="named-beats-account"),
    pytest.param({"AWS": ACCOUNT}, BOB, VIA_ACCOUNT, id="account-id-delegates"),
    pytest.param({"AWS": ACCOUNT}, ROOT, ALLOWED, id="account-id-root-itself"),
    pytest.param({"AWS": OTHER}, ALICE, NOTHING, id="other-account"),
    pytest.param(
        {"AWS": f"arn:aws:iam::{OTHER}:root"}, f"arn:aws:iam::{OTHER}:user/eve", VIA_ACCOUNT, id="x-acct"
    ),
    pytest.param(
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/service/App"},
        f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s1",
        ALLOWED,
        id="role-covers-its-sessions",
    ),
    pytest.param(
        {"AWS": f"arn:aws:iam::{OTHER}:role/App"},
        f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s1",
        NOTHING,
        id="same-role-name-other-account",
    ),
    pytest.param(
        {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s1"},
        f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s2",
        NOTHING,
        id="other-session",
    ),
    pytest.param({"Service": "ec2.amazonaws.com"}, ALICE, NOTHING, id="service-never-matches-iam"),
]


@pytest.mark.parametrize(("principal", "caller", "expected"), ALLOW_PRINCIPALS)
def test_allow_principals(principal: Any, caller: str, expected: PolicyResult) -> None:
    assert evaluate_policy(key_policy(stmt(principal=principal)), request(caller)) == expected


def test_deny_on_account_root_covers_every_principal_of_the_account() -> None:
    policy = key_policy(stmt(principal={"AWS": "*"}), stmt("Deny", {"AWS": ACCOUNT}, Action="kms:Decrypt"))
    assert evaluate_policy(policy, request(ALICE, "kms:Decrypt")) == DENIED
    assert evaluate_policy(policy, request(ROOT, "kms:Decrypt")) == DENIED
    assert evaluate_policy(policy, request(f"arn:aws:iam::{OTHER}:user/eve", "kms:Decrypt")) == ALLOWED
    assert evaluate_policy(policy, request(ALICE, "kms:Encrypt")) == ALLOWED


def test_explicit_deny_beats_allow() -> None:
    policy = key_policy(
        stmt(principal={"AWS": ROOT}),
        stmt("Deny", {"AWS": ALICE}, Action=["kms:Encrypt", "kms:Decrypt"]),
    )
    assert evaluate_policy(policy, request(ALICE)) == DENIED
    assert evaluate_policy(policy, request(ALICE, "kms:DescribeKey")) == VIA_ACCOUNT
    assert evaluate_policy(policy, request(BOB)) == VIA_ACCOUNT
    assert evaluate_policy(policy, request(ROOT)) == ALLOWED


SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s1"
NOT_PRINCIPALS = [
    # IAM checks the account, then the user or role, then the session: each link must be exempt.
    pytest.param([ROOT, ALICE], ALICE, NOTHING, id="account-and-user-exempts-user"),
    pytest.param([ROOT, ALICE], BOB, DENIED, id="other-user-denied"),
    pytest.param([ROOT, ALICE], ROOT, NOTHING, id="root-exempt"),
    pytest.param([ALICE], ALICE, DENIED, id="user-without-account-still-denied"),
    pytest.param([ROOT], ALICE, DENIED, id="account-alone-exempts-only-root"),
    pytest.param([ROOT], ROOT, NOTHING, id="account-alone-root"),
    pytest.param("*", ALICE, NOTHING, id="star-exempts-everyone"),
    pytest.param(
        [ROOT, f"arn:aws:iam::{ACCOUNT}:role/App", SESSION], SESSION, NOTHING, id="full-session-chain"
    ),
    pytest.param([ROOT, f"arn:aws:iam::{ACCOUNT}:role/App"], SESSION, DENIED, id="session-not-listed"),
    pytest.param([ROOT, SESSION], SESSION, DENIED, id="role-not-listed"),
    pytest.param([f"arn:aws:iam::{OTHER}:root"], ALICE, DENIED, id="other-account-listed"),
]


@pytest.mark.parametrize(("listed", "caller", "expected"), NOT_PRINCIPALS)
def test_not_principal(listed: Any, caller: str, expected: PolicyResult) -> None:
    principal = "*" if listed == "*" else {"AWS": listed}
    deny = {"Effect": "Deny", "NotPrincipal": principal, "Action": "kms:*", "Resource": "*"}
    assert evaluate_policy(key_policy(deny), request(caller)) == expected


# -- conditions in statements -----------------------------------------------------------------------------
def test_caller_account_with_star_principal_developer_guide_pattern() -> None:
    condition = {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.us-west-2.amazonaws.com"}
    }
    policy = key_policy(stmt(Condition=condition))
    via_ec2 = {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.us-west-2.amazonaws.com"}
    assert evaluate_policy(policy, request(**via_ec2)) == ALLOWED
    assert evaluate_policy(policy, request(**{**via_ec2, "kms:ViaService": "s3.amazonaws.com"})) == NOTHING
    assert evaluate_policy(policy, request()) == NOTHING


def test_encryption_context_condition_key_name_is_case_insensitive() -> None:
    policy = key_policy(stmt(Condition={"StringEquals": {"kms:EncryptionContext:Department": "IT"}}))
    assert evaluate_policy(policy, request(**{"KMS:encryptioncontext:department": "IT"})) == ALLOWED
    assert evaluate_policy(policy, request(**{"kms:EncryptionContext:Department": "it"})) == NOTHING
    assert evaluate_policy(policy, request()) == NOTHING


def test_deny_with_negated_condition_applies_when_key_missing() -> None:
    deny = stmt("Deny", Condition={"StringNotEquals": {"kms:EncryptionContext:Tenant": "acme"}})
    policy = key_policy(stmt(), deny)
    assert evaluate_policy(policy, request()) == DENIED
    assert evaluate_policy(policy, request(**{"kms:EncryptionContext:Tenant": "other"})) == DENIED
    assert evaluate_policy(policy, request(**{"kms:EncryptionContext:Tenant": "acme"})) == ALLOWED


def test_request_fields_feed_principal_condition_keys() -> None:
    policy = key_policy(
        stmt(Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:username": "alice"}})
    )
    assert evaluate_policy(policy, request(ALICE)) == ALLOWED
    assert evaluate_policy(policy, request(BOB)) == NOTHING
    assert evaluate_policy(policy, request(ROOT)) == NOTHING  # the root user has no aws:username
    # A value the caller put into the context wins over the derived one.
    assert evaluate_policy(policy, request(ALICE, **{"aws:username": "mallory"})) == NOTHING


# -- policy variables -------------------------------------------------------------------------------------
def test_variable_in_resource() -> None:
    resource = "arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*"
    policy = key_policy(stmt(Resource=resource))
    assert evaluate_policy(policy, request(ALICE)) == ALLOWED
    assert evaluate_policy(policy, request(f"arn:aws:iam::{OTHER}:user/eve")) == NOTHING


def test_variables_are_literal_in_version_2008() -> None:
    resource = "arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*"
    policy = key_policy(stmt(Resource=resource), version=VERSION_2008)
    assert evaluate_policy(policy, request(ALICE)) == NOTHING
    literal = "arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/x"
    assert evaluate_policy(policy, request(ALICE, resource=literal)) == ALLOWED


def test_variable_in_condition() -> None:
    policy = key_policy(stmt(Condition={"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}}))
    assert evaluate_policy(policy, request(ALICE, **{"kms:EncryptionContext:owner": "alice"})) == ALLOWED
    assert evaluate_policy(policy, request(ALICE, **{"kms:EncryptionContext:owner": "bob"})) == NOTHING


def test_unresolvable_variable_makes_the_statement_inapplicable_even_for_deny() -> None:
    deny = stmt("Deny", Resource=f"arn:aws:kms:*:{ACCOUNT}:key/${{aws:username}}*")
    policy = key_policy(stmt(), deny)
    role_session = f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s1"  # no aws:username for a role session
    assert evaluate_policy(policy, request(role_session)) == ALLOWED
    assert (
        evaluate_policy(policy, request(ALICE, resource=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/alice1"))
        == DENIED
    )


# -- identity policies and statement outcomes ---------------------------------------------------------------
def test_identity_policy() -> None:
    policy = identity_policy(
        {
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": f"arn:aws:kms:*:{ACCOUNT}:key/*",
        },
        {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": OTHER_KEY},
    )
    assert evaluate_policy(policy, request(ALICE, "kms:Encrypt")) == ALLOWED
    assert evaluate_policy(policy, request(ALICE, "kms:Decrypt")) == ALLOWED
    assert evaluate_policy(policy, request(ALICE, "kms:Decrypt", OTHER_KEY)) == DENIED
    assert evaluate_policy(policy, request(ALICE, "kms:DescribeKey")) == NOTHING


def test_evaluate_statement_outcomes() -> None:
    policy = key_policy(
        stmt(principal={"AWS": ACCOUNT}, Action="kms:Encrypt"),
        stmt("Deny", Action="kms:Decrypt"),
        {"Effect": "Allow", "Principal": "*", "Resource": "*"},  # no Action: never applies
    )
    allow, deny, inert = policy.statements
    assert evaluate_statement(allow, request(ALICE, "kms:Encrypt")) is StatementOutcome.ALLOW
    assert evaluate_statement(allow, request(ALICE, "kms:Decrypt")) is StatementOutcome.NO_MATCH
    assert evaluate_statement(deny, request(ALICE, "kms:Decrypt")) is StatementOutcome.DENY
    assert evaluate_statement(deny, request(ALICE, "kms:Encrypt")) is StatementOutcome.NO_MATCH
    assert evaluate_statement(inert, request(ALICE, "kms:Encrypt")) is StatementOutcome.NO_MATCH


def test_flags_are_exclusive_and_direct_allow_wins_over_account() -> None:
    policy = key_policy(stmt(principal={"AWS": ACCOUNT}), stmt(principal={"AWS": ALICE}))
    assert evaluate_policy(policy, request(ALICE)) == ALLOWED
    assert evaluate_policy(policy, request(BOB)) == VIA_ACCOUNT


def test_one_request_serves_several_policies() -> None:
    shared = request(ALICE, **{"kms:EncryptionContext:Department": "IT"})
    ec = key_policy(stmt(Condition={"StringEquals": {"kms:EncryptionContext:Department": "IT"}}))
    default = parse_policy(DEFAULT_KEY_POLICY, kind=PolicyKind.KEY)
    for _ in range(2):
        assert evaluate_policy(ec, shared) == ALLOWED
        assert evaluate_policy(default, shared) == VIA_ACCOUNT
