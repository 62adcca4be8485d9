"""Context keys that differ only in case (``{"tenant": "bob", "Tenant": "alice"}``) and condition keys.

Condition key names are case-insensitive, so ``kms:EncryptionContext:tenant`` matches both pairs. The rule:
the decision never depends on the order of the pairs, and a request is never allowed unless it would be
allowed with each of those pairs alone.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from strongroom.domain.policy import (
    VERSION_2012,
    AuthorizationRequest,
    PolicyKind,
    PolicyResult,
    evaluate_policy,
    fold_context,
    parse_policy,
)
from strongroom.domain.policy.patterns import Ambiguous

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TENANT = "kms:EncryptionContext:tenant"


def policy(*statements: dict[str, Any]) -> Any:
    return parse_policy(
        json.dumps({"Version": VERSION_2012, "Statement": list(statements)}), kind=PolicyKind.KEY
    )


def stmt(effect: str = "Allow", **elements: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": "*", "Action": "kms:*", "Resource": "*", **elements}


def decide(policy_: Any, pairs: list[tuple[str, str]], resource: str = KEY) -> PolicyResult:
    context: dict[str, Any] = {f"kms:EncryptionContext:{name}": value for name, value in pairs}
    context["kms:EncryptionContextKeys"] = [name for name, _ in pairs]
    return evaluate_policy(
        policy_, AuthorizationRequest(ALICE, ACCOUNT, "kms:GenerateDataKey", resource, context)
    )


def allowed(policy_: Any, pairs: list[tuple[str, str]], resource: str = KEY) -> bool:
    return decide(policy_, pairs, resource).allowed


def test_the_reported_case_is_refused_in_both_orders() -> None:
    only_alice = policy(stmt(Condition={"StringEquals": {TENANT: "alice"}}))
    assert not allowed(only_alice, [("tenant", "bob"), ("Tenant", "alice")])
    assert not allowed(only_alice, [("Tenant", "alice"), ("tenant", "bob")])
    assert allowed(only_alice, [("tenant", "alice"), ("Tenant", "alice")])
    assert allowed(only_alice, [("Tenant", "alice")])


def test_fold_context_does_not_depend_on_order() -> None:
    one = fold_context({"a:X": "1", "a:x": "2", "b": "3"})
    other = fold_context({"b": "3", "a:x": "2", "a:X": "1"})
    assert one == other == {"a:x": Ambiguous(("1", "2")), "b": "3"}
    assert fold_context({"A": "1", "b": "2"}) == {"a": "1", "b": "2"}


CONDITIONS = [
    {"StringEquals": {TENANT: "alice"}},
    {"StringNotEquals": {TENANT: "bob"}},
    {"StringEqualsIgnoreCase": {TENANT: "ALICE"}},
    {"StringNotEqualsIgnoreCase": {TENANT: "BOB"}},
    {"StringLike": {TENANT: "al*"}},
    {"StringNotLike": {TENANT: "b*"}},
    {"StringEqualsIfExists": {TENANT: "alice"}},
    {"StringNotEqualsIfExists": {TENANT: "bob"}},
    {"ForAnyValue:StringEquals": {TENANT: "alice"}},
    {"ForAllValues:StringEquals": {TENANT: "alice"}},
    {"ForAllValues:StringNotEquals": {TENANT: "bob"}},
    {"Null": {TENANT: "false"}},
    {"Null": {TENANT: "true"}},
    {"StringEquals": {TENANT: ["alice", "carol"]}, "StringNotEquals": {TENANT: "carol"}},
]
VALUES = ["alice", "bob", "carol", "ALICE"]


def _policies(condition: dict[str, Any]) -> list[Any]:
    return [
        policy(stmt(Condition=condition)),  # allowed only under the condition
        policy(stmt(), stmt("Deny", Condition=condition)),  # allowed unless the condition holds
    ]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: json.dumps(c))
def test_no_request_is_allowed_that_one_of_its_pairs_alone_would_not_be(condition: dict[str, Any]) -> None:
    for policy_ in _policies(condition):
        for first, second in itertools.product(VALUES, repeat=2):
            pairs = [("tenant", first), ("Tenant", second)]
            together = decide(policy_, pairs)
            assert decide(policy_, pairs[::-1]) == together, "the order of the pairs must not matter"
            if together.allowed:
                assert allowed(policy_, pairs[:1]) and allowed(policy_, pairs[1:]), (pairs, together)
            if allowed(policy_, pairs[:1]) and allowed(policy_, pairs[1:]) and first == second:
                assert together.allowed, "two spellings of one value change nothing"


def test_a_deny_applies_when_any_of_the_pairs_triggers_it() -> None:
    only_alice = policy(stmt(), stmt("Deny", Condition={"StringNotEquals": {TENANT: "alice"}}))
    assert decide(only_alice, [("tenant", "alice"), ("Tenant", "bob")]).explicit_deny
    assert decide(only_alice, [("Tenant", "bob"), ("tenant", "alice")]).explicit_deny
    assert allowed(only_alice, [("tenant", "alice"), ("TENANT", "alice")])


def test_a_policy_variable_naming_an_ambiguous_key_fails_safe() -> None:
    owner_is_tenant = {"StringEquals": {"kms:EncryptionContext:owner": "${kms:EncryptionContext:tenant}"}}
    allow = policy(stmt(Condition=owner_is_tenant))
    assert allowed(allow, [("owner", "alice"), ("tenant", "alice")])
    assert not allowed(allow, [("owner", "alice"), ("tenant", "alice"), ("Tenant", "alice")])
    # A default does not rescue an ambiguous variable.
    with_default = {"StringEquals": {"kms:EncryptionContext:owner": "${kms:EncryptionContext:tenant, 'x'}"}}
    assert not allowed(
        policy(stmt(Condition=with_default)), [("owner", "x"), ("tenant", "a"), ("Tenant", "b")]
    )
    deny = policy(stmt(), stmt("Deny", Condition={"StringNotEquals": owner_is_tenant["StringEquals"]}))
    assert allowed(deny, [("owner", "alice"), ("tenant", "alice")])
    assert decide(deny, [("owner", "alice"), ("tenant", "alice"), ("Tenant", "alice")]).explicit_deny


def test_an_ambiguous_variable_in_a_resource_makes_a_deny_apply_and_an_allow_not() -> None:
    resource = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/${{kms:EncryptionContext:tenant}}"
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/alice"
    allow = policy(stmt(Resource=resource))
    assert allowed(allow, [("tenant", "alice")], key)
    assert not allowed(allow, [("tenant", "alice"), ("Tenant", "alice")], key)
    deny_others = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "NotResource": resource}
    deny = policy(stmt(), deny_others)
    assert allowed(deny, [("tenant", "alice")], key)
    assert decide(deny, [("tenant", "alice"), ("Tenant", "alice")], key).explicit_deny
