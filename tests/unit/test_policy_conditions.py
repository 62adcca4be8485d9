"""Known-answer tables for the IAM condition operators (values from the IAM User Guide examples)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from strongroom.domain.policy import compile_conditions, fold_context
from strongroom.errors import MalformedPolicyDocumentException

MISSING: dict[str, Any] = {}


def holds(condition: dict[str, Any], context: dict[str, Any], *, variables: bool = True) -> bool:
    block = compile_conditions(condition, variables=variables)
    assert block is not None
    return block.holds(fold_context(context))


def case(condition: dict[str, Any], context: dict[str, Any], expected: bool, name: str) -> Any:
    return pytest.param(condition, context, expected, id=name)


def k(operator: str, value: Any) -> dict[str, Any]:
    """A one-operator, one-key condition on key ``k``."""
    return {operator: {"k": value}}


OPERATOR_TABLE = [
    # -- strings
    case(k("StringEquals", "johndoe"), {"k": "johndoe"}, True, "StringEquals-hit"),
    case(k("StringEquals", "johndoe"), {"k": "JohnDoe"}, False, "StringEquals-case-sensitive"),
    case(k("StringEquals", "johndoe"), MISSING, False, "StringEquals-missing"),
    case(k("StringEquals", ["a", "b"]), {"k": "b"}, True, "StringEquals-values-ORed"),
    case(k("StringEquals", ["a", "b"]), {"k": "c"}, False, "StringEquals-none-of-values"),
    case(k("StringEquals", "true"), {"k": True}, True, "StringEquals-bool-request-as-text"),
    case(k("StringEquals", 10), {"k": "10"}, True, "StringEquals-number-policy-as-text"),
    case(k("StringNotEquals", ["a", "b"]), {"k": "c"}, True, "StringNotEquals-none-match"),
    case(k("StringNotEquals", ["a", "b"]), {"k": "a"}, False, "StringNotEquals-NOR-first"),
    case(k("StringNotEquals", ["a", "b"]), {"k": "b"}, False, "StringNotEquals-NOR-second"),
    case(k("StringNotEquals", "a"), MISSING, True, "StringNotEquals-missing"),
    case(k("StringEqualsIgnoreCase", "johndoe"), {"k": "JohnDoe"}, True, "StringEqualsIgnoreCase-hit"),
    case(k("StringEqualsIgnoreCase", "johndoe"), {"k": "jane"}, False, "StringEqualsIgnoreCase-miss"),
    case(k("StringEqualsIgnoreCase", "johndoe"), MISSING, False, "StringEqualsIgnoreCase-missing"),
    case(
        k("StringNotEqualsIgnoreCase", "JohnDoe"), {"k": "JOHNDOE"}, False, "StringNotEqualsIgnoreCase-equal"
    ),
    case(k("StringNotEqualsIgnoreCase", "JohnDoe"), {"k": "jane"}, True, "StringNotEqualsIgnoreCase-differs"),
    case(k("StringNotEqualsIgnoreCase", "JohnDoe"), MISSING, True, "StringNotEqualsIgnoreCase-missing"),
    case(k("StringLike", "marketing/*"), {"k": "marketing/a/b"}, True, "StringLike-star"),
    case(k("StringLike", "marketing/*"), {"k": "sales/a"}, False, "StringLike-star-miss"),
    case(k("StringLike", "marketing/*"), {"k": "Marketing/a"}, False, "StringLike-case-sensitive"),
    case(k("StringLike", "a?c"), {"k": "abc"}, True, "StringLike-qmark-one"),
    case(k("StringLike", "a?c"), {"k": "ac"}, False, "StringLike-qmark-not-zero"),
    case(k("StringLike", "a?c"), {"k": "abbc"}, False, "StringLike-qmark-not-two"),
    case(k("StringLike", "a.c"), {"k": "abc"}, False, "StringLike-dot-is-literal"),
    case(k("StringLike", "*:*"), {"k": "x:y:z"}, True, "StringLike-crosses-colons"),
    case(k("StringLike", "x"), MISSING, False, "StringLike-missing"),
    case(k("StringNotLike", "key1*"), {"k": "key2"}, True, "StringNotLike-no-match"),
    case(k("StringNotLike", "key1*"), {"k": "key1x"}, False, "StringNotLike-match"),
    case(k("StringNotLike", "key1*"), MISSING, True, "StringNotLike-missing"),
    # -- numbers
    case(k("NumericEquals", "10"), {"k": "10"}, True, "NumericEquals-text"),
    case(k("NumericEquals", "10"), {"k": 10}, True, "NumericEquals-int"),
    case(k("NumericEquals", 10), {"k": "10.0"}, True, "NumericEquals-float-text"),
    case(k("NumericEquals", "10"), {"k": "11"}, False, "NumericEquals-miss"),
    case(k("NumericEquals", "10"), {"k": "ten"}, False, "NumericEquals-unreadable"),
    case(k("NumericEquals", "10"), {"k": True}, False, "NumericEquals-bool-is-no-number"),
    case(k("NumericEquals", "10"), MISSING, False, "NumericEquals-missing"),
    case(k("NumericNotEquals", "10"), {"k": "11"}, True, "NumericNotEquals-differs"),
    case(k("NumericNotEquals", "10"), {"k": "10"}, False, "NumericNotEquals-equal"),
    case(k("NumericNotEquals", "10"), MISSING, True, "NumericNotEquals-missing"),
    case(k("NumericNotEquals", "10"), {"k": "ten"}, True, "NumericNotEquals-unreadable"),
    case(k("NumericLessThan", "10"), {"k": 9}, True, "NumericLessThan-below"),
    case(k("NumericLessThan", "10"), {"k": 10}, False, "NumericLessThan-equal"),
    case(k("NumericLessThanEquals", "10"), {"k": "10"}, True, "NumericLessThanEquals-equal"),
    case(k("NumericLessThanEquals", "10"), {"k": "11"}, False, "NumericLessThanEquals-above"),
    case(k("NumericGreaterThan", "10"), {"k": 10.5}, True, "NumericGreaterThan-above"),
    case(k("NumericGreaterThan", "10"), {"k": 10}, False, "NumericGreaterThan-equal"),
    case(k("NumericGreaterThanEquals", "10"), {"k": 10}, True, "NumericGreaterThanEquals-equal"),
    case(k("NumericGreaterThanEquals", "10"), {"k": 9}, False, "NumericGreaterThanEquals-below"),
    case(k("NumericGreaterThanEquals", ["100", "5"]), {"k": 9}, True, "Numeric-values-ORed"),
    # -- dates: ISO 8601 and epoch seconds on both sides
    case(
        k("DateLessThan", "2013-06-30T00:00:00Z"), {"k": "2013-06-29T23:59:59Z"}, True, "DateLessThan-before"
    ),
    case(
        k("DateLessThan", "2013-06-30T00:00:00Z"), {"k": "2013-06-30T00:00:00Z"}, False, "DateLessThan-equal"
    ),
    case(
        k("DateLessThanEquals", "2013-06-30T00:00:00Z"), {"k": 1372550400}, True, "DateLessThanEquals-epoch"
    ),
    case(
        k("DateLessThanEquals", "2013-06-30T00:00:00Z"), {"k": 1372550401}, False, "DateLessThanEquals-after"
    ),
    case(k("DateGreaterThan", "2013-06-30"), {"k": "2013-06-30T00:00:01Z"}, True, "DateGreaterThan-after"),
    case(k("DateGreaterThan", "2013-06-30"), {"k": "2013-06-30T00:00:00Z"}, False, "DateGreaterThan-equal"),
    case(
        k("DateGreaterThanEquals", "1372550400"), {"k": "2013-06-30T00:00:00Z"}, True, "DateGTE-epoch-policy"
    ),
    case(k("DateGreaterThanEquals", 1372550400), {"k": "2013-06-29T23:59:59Z"}, False, "DateGTE-before"),
    case(k("DateEquals", "2020-01-01T00:00:00Z"), {"k": 1577836800}, True, "DateEquals-iso-vs-epoch"),
    case(k("DateEquals", "2020-01-01T00:00:00Z"), {"k": "1577836800"}, True, "DateEquals-iso-vs-epoch-text"),
    case(k("DateEquals", "2020-01-01T00:00:00"), {"k": 1577836800}, True, "DateEquals-zoneless-is-UTC"),
    case(k("DateEquals", "2020-01-01T01:00:00+01:00"), {"k": 1577836800}, True, "DateEquals-offset"),
    case(k("DateEquals", "2020-01-01T00:00:00Z"), {"k": 1577836801}, False, "DateEquals-one-second-off"),
    case(k("DateNotEquals", "2020-01-01T00:00:00Z"), {"k": 1577836800}, False, "DateNotEquals-equal"),
    case(k("DateNotEquals", "2020-01-01T00:00:00Z"), {"k": 1577836801}, True, "DateNotEquals-differs"),
    case(k("DateNotEquals", "2020-01-01T00:00:00Z"), MISSING, True, "DateNotEquals-missing"),
    case(k("DateLessThan", "2020-01-01T00:00:00Z"), {"k": "not-a-date"}, False, "DateLessThan-unreadable"),
    case(k("DateLessThan", "2020-01-01T00:00:00Z"), MISSING, False, "DateLessThan-missing"),
    # -- Bool
    case(k("Bool", "true"), {"k": True}, True, "Bool-true"),
    case(k("Bool", "true"), {"k": "TRUE"}, True, "Bool-text-any-case"),
    case(k("Bool", True), {"k": "true"}, True, "Bool-json-bool-policy"),
    case(k("Bool", "true"), {"k": False}, False, "Bool-false"),
    case(k("Bool", "true"), {"k": "yes"}, False, "Bool-unreadable"),
    case(k("Bool", "true"), MISSING, False, "Bool-missing"),
    case(k("Bool", "false"), {"k": "false"}, True, "Bool-false-matches-false"),
    # -- Binary
    case(
        k("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
        {"k": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        True,
        "Bin-hit",
    ),
    case(k("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), {"k": "T3RoZXI="}, False, "BinaryEquals-miss"),
    case(k("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), {"k": "%%%"}, False, "BinaryEquals-not-base64"),
    case(k("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), MISSING, False, "BinaryEquals-missing"),
    # -- IP addresses, v4 and v6
    case(k("IpAddress", "203.0.113.0/24"), {"k": "203.0.113.5"}, True, "IpAddress-v4-inside"),
    case(k("IpAddress", "203.0.113.0/24"), {"k": "203.0.114.1"}, False, "IpAddress-v4-outside"),
    case(k("IpAddress", "203.0.113.0/24"), MISSING, False, "IpAddress-missing"),
    case(k("IpAddress", "192.0.2.1"), {"k": "192.0.2.1"}, True, "IpAddress-single-address"),
    case(k("IpAddress", "192.0.2.1"), {"k": "192.0.2.2"}, False, "IpAddress-single-address-miss"),
    case(k("IpAddress", "203.0.113.5/24"), {"k": "203.0.113.77"}, True, "IpAddress-host-bits-allowed"),
    case(k("IpAddress", "2001:DB8:1234:5678::/64"), {"k": "2001:db8:1234:5678::1"}, True, "IpAddress-v6-in"),
    case(
        k("IpAddress", "2001:DB8:1234:5678::/64"), {"k": "2001:db8:1234:5679::1"}, False, "IpAddress-v6-out"
    ),
    case(k("IpAddress", "0.0.0.0/0"), {"k": "2001:db8::1"}, False, "IpAddress-v6-address-v4-block"),
    case(k("IpAddress", "::/0"), {"k": "10.0.0.1"}, False, "IpAddress-v4-address-v6-block"),
    case(k("IpAddress", ["10.0.0.0/8", "2001:db8::/32"]), {"k": "2001:db8::9"}, True, "IpAddress-mixed-list"),
    case(k("IpAddress", "10.0.0.0/8"), {"k": "10.0.0.300"}, False, "IpAddress-unreadable"),
    case(k("NotIpAddress", "203.0.113.0/24"), {"k": "203.0.114.1"}, True, "NotIpAddress-outside"),
    case(k("NotIpAddress", "203.0.113.0/24"), {"k": "203.0.113.5"}, False, "NotIpAddress-inside"),
    case(k("NotIpAddress", "203.0.113.0/24"), MISSING, True, "NotIpAddress-missing"),
    # -- ARNs: component by component
    case(
        k("ArnLike", "arn:aws:cloudtrail:*:111122223333:trail/*"),
        {"k": "arn:aws:cloudtrail:us-east-1:111122223333:trail/mytrail"},
        True,
        "ArnLike-hit",
    ),
    case(
        k("ArnLike", "arn:aws:cloudtrail:*:111122223333:trail/*"),
        {"k": "arn:aws:cloudtrail:us-east-1:444455556666:trail/mytrail"},
        False,
        "ArnLike-other-account",
    ),
    case(
        k("ArnEquals", "arn:aws:cloudtrail:*:111122223333:trail/*"),
        {"k": "arn:aws:cloudtrail:us-east-1:111122223333:trail/mytrail"},
        True,
        "ArnEquals-takes-wildcards-too",
    ),
    case(
        k("ArnLike", "arn:aws:iam::*:root"),
        {"k": "arn:aws:iam::111122223333:extra:root"},
        False,
        "ArnLike-star-stays-in-component",
    ),
    case(
        k("StringLike", "arn:aws:iam::*:root"),
        {"k": "arn:aws:iam::111122223333:extra:root"},
        True,
        "StringLike-same-pattern-crosses",
    ),
    case(
        k("ArnLike", "arn:aws:logs:us-east-1:111122223333:log-group:*"),
        {"k": "arn:aws:logs:us-east-1:111122223333:log-group:my:stream"},
        True,
        "ArnLike-resource-component-holds-colons",
    ),
    case(k("ArnLike", "arn:aws:s3:::bucket"), {"k": "bucket"}, False, "ArnLike-request-not-an-arn"),
    case(k("ArnLike", "arn:aws:s3:::bucket"), MISSING, False, "ArnLike-missing"),
    case(
        k("ArnNotLike", "arn:aws:iam::111122223333:*"),
        {"k": "arn:aws:iam::111122223333:role/x"},
        False,
        "ArnNL-m",
    ),
    case(
        k("ArnNotLike", "arn:aws:iam::111122223333:*"),
        {"k": "arn:aws:iam::444455556666:role/x"},
        True,
        "ArnNL-o",
    ),
    case(k("ArnNotLike", "arn:aws:iam::111122223333:*"), MISSING, True, "ArnNotLike-missing"),
    case(
        k("ArnNotEquals", "arn:aws:iam::111122223333:root"),
        {"k": "arn:aws:iam::111122223333:root"},
        False,
        "ANE",
    ),
    case(k("ArnNotEquals", "arn:aws:iam::111122223333:root"), MISSING, True, "ArnNotEquals-missing"),
]


@pytest.mark.parametrize(("condition", "context", "expected"), OPERATOR_TABLE)
def test_operator_table(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert holds(condition, context) is expected


EXISTENCE_TABLE = [
    case(k("StringEqualsIfExists", "a"), MISSING, True, "IfExists-missing"),
    case(k("StringEqualsIfExists", "a"), {"k": "a"}, True, "IfExists-present-hit"),
    case(k("StringEqualsIfExists", "a"), {"k": "b"}, False, "IfExists-present-miss"),
    case(k("StringNotEqualsIfExists", "a"), MISSING, True, "NegatedIfExists-missing"),
    case(k("StringNotEqualsIfExists", "a"), {"k": "a"}, False, "NegatedIfExists-present-equal"),
    case(k("NumericLessThanIfExists", 5), MISSING, True, "NumericIfExists-missing"),
    case(k("NumericLessThanIfExists", 5), {"k": 7}, False, "NumericIfExists-present-miss"),
    case(k("DateLessThanIfExists", "2020-01-01"), MISSING, True, "DateIfExists-missing"),
    case(k("BoolIfExists", "false"), MISSING, True, "BoolIfExists-missing-MFA-example"),
    case(k("BoolIfExists", "false"), {"k": "true"}, False, "BoolIfExists-present-true"),
    case(k("IpAddressIfExists", "10.0.0.0/8"), MISSING, True, "IpAddressIfExists-missing"),
    case(k("ArnLikeIfExists", "arn:aws:iam::*:root"), MISSING, True, "ArnLikeIfExists-missing"),
    case(k("ForAnyValue:StringEqualsIfExists", "a"), MISSING, True, "ForAnyValue-IfExists-missing"),
    case(k("Null", "true"), MISSING, True, "Null-true-missing"),
    case(k("Null", "true"), {"k": None}, True, "Null-true-None"),
    case(k("Null", "true"), {"k": []}, True, "Null-true-empty-list"),
    case(k("Null", "true"), {"k": "x"}, False, "Null-true-present"),
    case(k("Null", "true"), {"k": ""}, False, "Null-true-empty-string-is-present"),
    case(k("Null", "false"), {"k": "x"}, True, "Null-false-present"),
    case(k("Null", False), MISSING, False, "Null-false-missing"),
    case(k("Null", ["true", "false"]), MISSING, True, "Null-values-ORed"),
]


@pytest.mark.parametrize(("condition", "context", "expected"), EXISTENCE_TABLE)
def test_if_exists_and_null(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert holds(condition, context) is expected


ATTRS = ["PostDateTime", "Message", "Tags"]
SET_TABLE = [
    # The DynamoDB examples of the IAM guide ("Conditions with multiple context keys or values").
    case(k("ForAllValues:StringLike", ATTRS), {"k": ["PostDateTime", "Message"]}, True, "ForAll-subset"),
    case(
        k("ForAllValues:StringLike", ATTRS), {"k": ["PostDateTime", "UserName"]}, False, "ForAll-one-outside"
    ),
    case(k("ForAllValues:StringLike", ATTRS), MISSING, True, "ForAll-missing"),
    case(k("ForAllValues:StringLike", ATTRS), {"k": []}, True, "ForAll-empty"),
    case(k("ForAllValues:StringLike", ATTRS), {"k": "Tags"}, True, "ForAll-single-value"),
    case(
        k("ForAnyValue:StringLike", ["ID", "PostDateTime"]),
        {"k": ["UserName", "PostDateTime"]},
        True,
        "Any-one",
    ),
    case(k("ForAnyValue:StringLike", ["ID", "PostDateTime"]), {"k": ["UserName"]}, False, "ForAny-none"),
    case(k("ForAnyValue:StringLike", ["ID", "PostDateTime"]), MISSING, False, "ForAny-missing"),
    case(k("ForAnyValue:StringLike", ["ID", "PostDateTime"]), {"k": []}, False, "ForAny-empty"),
    case(k("ForAnyValue:StringEquals", "ID"), {"k": "ID"}, True, "ForAny-single-value"),
    # Negated operators under a set prefix test each request value (IAM "multivalued context key examples").
    case(k("ForAllValues:StringNotLike", "key1*"), {"k": ["key1:legal"]}, False, "ForAllNotLike-key1"),
    case(
        k("ForAllValues:StringNotLike", "key1*"),
        {"k": ["key1:hr", "key1:personnel"]},
        False,
        "ForAllNotLike-2",
    ),
    case(k("ForAllValues:StringNotLike", "key1*"), {"k": ["key2:audit"]}, True, "ForAllNotLike-key2"),
    case(k("ForAllValues:StringNotLike", "key1*"), {"k": ["key1:a", "key2:b"]}, False, "ForAllNotLike-mixed"),
    case(k("ForAllValues:StringNotLike", "key1*"), MISSING, True, "ForAllNotLike-missing"),
    case(k("ForAnyValue:StringNotEquals", "a"), {"k": ["a", "b"]}, True, "ForAnyNotEquals-one-differs"),
    case(k("ForAnyValue:StringNotEquals", "a"), {"k": ["a"]}, False, "ForAnyNotEquals-all-equal"),
    case(k("ForAnyValue:StringNotEquals", "a"), MISSING, False, "ForAnyNotEquals-missing"),
    case(k("ForAllValues:NumericLessThan", 10), {"k": ["1", "2"]}, True, "ForAll-numeric"),
    # Our documented choice without a prefix: positive = any value matches; negated = none matches.
    case(k("StringEquals", "a"), {"k": ["b", "a"]}, True, "plain-multi-any"),
    case(k("StringEquals", "a"), {"k": ["b", "c"]}, False, "plain-multi-none"),
    case(k("StringNotEquals", "a"), {"k": ["b", "a"]}, False, "plain-negated-multi-one-equal"),
    case(k("StringNotEquals", "a"), {"k": ["b", "c"]}, True, "plain-negated-multi-none-equal"),
    case(k("StringEquals", "a"), {"k": []}, False, "plain-empty-is-missing"),
    case(k("StringNotEquals", "a"), {"k": []}, True, "plain-negated-empty-is-missing"),
]


@pytest.mark.parametrize(("condition", "context", "expected"), SET_TABLE)
def test_set_operators(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert holds(condition, context) is expected


LOGIC_TABLE = [
    case(
        {"StringEquals": {"a": "1"}, "NumericLessThan": {"b": 5}},
        {"a": "1", "b": 4},
        True,
        "operators-AND-both",
    ),
    case(
        {"StringEquals": {"a": "1"}, "NumericLessThan": {"b": 5}},
        {"a": "1", "b": 6},
        False,
        "operators-AND-one",
    ),
    case({"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "2"}, True, "keys-AND-both"),
    case({"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "3"}, False, "keys-AND-one"),
    case({"StringEquals": {"a": "1", "b": "2"}}, {"a": "1"}, False, "keys-AND-one-missing"),
    # Key names are case-insensitive; values follow the operator.
    case(k("StringEquals", "IT"), {"K": "IT"}, True, "key-name-case-request"),
    case({"StringEquals": {"AWS:SourceIp": "x"}}, {"aws:sourceip": "x"}, True, "key-name-case-policy"),
    case(
        {"StringEquals": {"kms:encryptioncontext:Department": "IT"}},
        {"kms:EncryptionContext:Department": "IT"},
        True,
        "encryption-context-key-name",
    ),
    case(
        {"StringEquals": {"kms:EncryptionContext:Department": "IT"}},
        {"kms:EncryptionContext:Department": "it"},
        False,
        "ec-value",
    ),
    case({"stringequals": {"k": "a"}}, {"k": "a"}, True, "operator-name-case-insensitive"),
    case(
        {"forallvalues:stringequalsifexists": {"k": "a"}}, {"k": ["a"]}, True, "qualifiers-case-insensitive"
    ),
]


@pytest.mark.parametrize(("condition", "context", "expected"), LOGIC_TABLE)
def test_and_or_and_names(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert holds(condition, context) is expected


VARIABLE_TABLE = [
    case(k("StringEquals", "${aws:username}"), {"aws:username": "alice", "k": "alice"}, True, "var-hit"),
    case(k("StringEquals", "${aws:username}"), {"aws:username": "alice", "k": "bob"}, False, "var-miss"),
    case(
        k("StringEquals", "${AWS:UserName}"), {"aws:username": "alice", "k": "alice"}, True, "var-name-case"
    ),
    case(k("StringEquals", "${aws:username}"), {"k": "alice"}, False, "var-unresolved"),
    case(
        k("StringNotEquals", "${aws:username}"), {"k": "alice"}, False, "var-unresolved-negated-still-false"
    ),
    case(k("StringEquals", "${aws:username}"), {"aws:username": ["a"], "k": "a"}, False, "var-multivalued"),
    case(k("StringEquals", "${aws:username, 'anonymous'}"), {"k": "anonymous"}, True, "var-default"),
    case(
        k("StringEquals", "${aws:username, 'anonymous'}"), {"aws:username": "al", "k": "al"}, True, "var-set"
    ),
    case(k("StringEquals", "${x, 'it''s'}"), {"k": "it's"}, True, "var-default-quote"),
    case(
        k("StringEquals", "${aws:SecureTransport}"),
        {"aws:SecureTransport": True, "k": "true"},
        True,
        "var-bool",
    ),
    case(k("StringEquals", "pre-${p}-post"), {"p": "mid", "k": "pre-mid-post"}, True, "var-inside-text"),
    case(k("StringLike", "a${*}b"), {"k": "a*b"}, True, "escape-star-literal"),
    case(k("StringLike", "a${*}b"), {"k": "axxb"}, False, "escape-star-not-wildcard"),
    case(k("StringLike", "a${?}b"), {"k": "a?b"}, True, "escape-qmark-literal"),
    case(k("StringLike", "a${?}b"), {"k": "axb"}, False, "escape-qmark-not-wildcard"),
    case(k("StringEquals", "cost${$}"), {"k": "cost$"}, True, "escape-dollar"),
    case(
        k("StringLike", "home/${aws:username}/*"),
        {"aws:username": "a*", "k": "home/abc/x"},
        False,
        "value-literal",
    ),
    case(
        k("StringLike", "home/${aws:username}/*"),
        {"aws:username": "a*", "k": "home/a*/x"},
        True,
        "value-literal-hit",
    ),
    case(
        k("StringLike", "home/${aws:username}/*"),
        {"aws:username": "al", "k": "home/al/x/y"},
        True,
        "like-var-star",
    ),
    case(k("StringEqualsIgnoreCase", "${u}"), {"u": "Alice", "k": "ALICE"}, True, "var-ignore-case"),
    case(
        k("ArnLike", "arn:aws:iam::${aws:PrincipalAccount}:user/*"),
        {"aws:PrincipalAccount": "111122223333", "k": "arn:aws:iam::111122223333:user/alice"},
        True,
        "var-in-arn",
    ),
    case(k("StringEquals", "${foo"), {"k": "${foo"}, True, "unclosed-is-literal"),
]


@pytest.mark.parametrize(("condition", "context", "expected"), VARIABLE_TABLE)
def test_policy_variables(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert holds(condition, context) is expected


def test_variables_are_literal_in_version_2008() -> None:
    condition = k("StringEquals", "${aws:username}")
    assert holds(condition, {"aws:username": "alice", "k": "${aws:username}"}, variables=False) is True
    assert holds(condition, {"aws:username": "alice", "k": "alice"}, variables=False) is False


def test_zoneless_dates_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert holds(k("DateEquals", "2020-01-01T00:00:00"), {"k": 1577836800}) is True
        assert holds(k("DateEquals", 1577836800), {"k": "2020-01-01T00:00:00"}) is True
    finally:
        monkeypatch.undo()
        time.tzset()


def test_compiled_condition_reports_its_parts() -> None:
    block = compile_conditions({"ForAnyValue:StringNotLikeIfExists": {"Kms:Key": "x"}}, variables=True)
    assert block is not None
    (condition,) = block.conditions
    assert (condition.operator, condition.key) == ("ForAnyValue:StringNotLikeIfExists", "Kms:Key")
    assert (condition.negated, condition.if_exists, condition.set_operator) == (True, True, "ForAnyValue")


def test_empty_condition_compiles_to_none() -> None:
    assert compile_conditions({}, variables=True) is None


MALFORMED = [
    pytest.param({"StringEqualz": {"k": "a"}}, id="unknown-operator"),
    pytest.param({"ForSomeValues:StringEquals": {"k": "a"}}, id="unknown-set-prefix"),
    pytest.param({"NullIfExists": {"k": "true"}}, id="Null-IfExists"),
    pytest.param({"ForAnyValue:Null": {"k": "true"}}, id="Null-set-prefix"),
    pytest.param({"Null": {"k": "maybe"}}, id="Null-not-boolean"),
    pytest.param({"NumericEquals": {"k": "ten"}}, id="number"),
    pytest.param({"NumericLessThan": {"k": True}}, id="number-bool"),
    pytest.param({"DateEquals": {"k": "yesterday"}}, id="date"),
    pytest.param({"Bool": {"k": "yes"}}, id="bool"),
    pytest.param({"IpAddress": {"k": "300.1.1.1"}}, id="ip"),
    pytest.param({"IpAddress": {"k": "10.0.0.0/33"}}, id="cidr"),
    pytest.param({"BinaryEquals": {"k": "not base64!"}}, id="base64"),
    pytest.param({"NumericEquals": {"k": "${aws:username}"}}, id="no-variables-in-numeric"),
    pytest.param({"StringEquals": "k"}, id="operator-not-object"),
    pytest.param({"StringEquals": {}}, id="operator-empty"),
    pytest.param({"StringEquals": {"": "a"}}, id="empty-key"),
    pytest.param({"StringEquals": {"k": {"nested": "a"}}}, id="value-object"),
    pytest.param({"StringEquals": {"k": [["a"]]}}, id="value-nested-list"),
    pytest.param({"StringEquals": {"k": None}}, id="value-null"),
    pytest.param(["StringEquals"], id="block-not-object"),
]


@pytest.mark.parametrize("condition", MALFORMED)
def test_malformed_conditions(condition: Any) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        compile_conditions(condition, variables=True)
    assert raised.value.message
