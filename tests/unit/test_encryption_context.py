"""Tests of the canonical encryption-context encoding (the AES-GCM associated data)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from strongroom.domain.encryption_context import EMPTY_ENCRYPTION_CONTEXT, canonical_encryption_context
from strongroom.errors import ValidationException


def _h(hex_string: str) -> bytes:
    return bytes.fromhex(hex_string.replace(" ", ""))


# Written by hand from the layout: u16 count, then per pair u16 len + key, u16 len + value.
KNOWN_ANSWERS: list[tuple[dict[str, str] | None, bytes]] = [
    (None, _h("0000")),
    ({}, _h("0000")),
    ({"a": "b"}, _h("0001 0001 61 0001 62")),
    ({"a": ""}, _h("0001 0001 61 0000")),
    ({"": ""}, _h("0001 0000 0000")),
    ({"b": "2", "a": "1"}, _h("0002 0001 61 0001 31 0001 62 0001 32")),
    ({"a": "bc"}, _h("0001 0001 61 0002 6263")),
    ({"ab": "c"}, _h("0001 0002 6162 0001 63")),
    (
        {"purpose": "test", "Tenant": "acme"},
        _h("0002 0006 54656e616e74 0004 61636d65 0007 707572706f7365 0004 74657374"),
    ),
    ({"\u00e9": "\u00fc"}, _h("0001 0002 c3a9 0002 c3bc")),
    ({"k": "\U0001f511"}, _h("0001 0001 6b 0004 f09f9491")),
]


@pytest.mark.parametrize(("context", "expected"), KNOWN_ANSWERS)
def test_known_answers(context: dict[str, str] | None, expected: bytes) -> None:
    assert canonical_encryption_context(context) == expected


def test_empty_is_a_module_constant() -> None:
    assert EMPTY_ENCRYPTION_CONTEXT == b"\x00\x00"
    assert canonical_encryption_context(None) is EMPTY_ENCRYPTION_CONTEXT
    assert canonical_encryption_context({}) is EMPTY_ENCRYPTION_CONTEXT
    assert canonical_encryption_context(None) == canonical_encryption_context({})


def test_order_independent() -> None:
    pairs = [("zeta", "1"), ("alpha", "2"), ("mid", "3"), ("Alpha", "4"), ("alpha2", "5")]
    forward = canonical_encryption_context(dict(pairs))
    backward = canonical_encryption_context(dict(reversed(pairs)))
    assert forward == backward
    assert canonical_encryption_context(MappingProxyType(dict(pairs))) == forward


def test_sorted_bytewise_by_utf8_key() -> None:
    # "B" (0x42) < "a" (0x61) < "aa" (prefix first) < "b"
    encoded = canonical_encryption_context({"b": "", "aa": "", "a": "", "B": ""})
    assert encoded == _h("0004 0001 42 0000 0001 61 0000 0002 6161 0000 0001 62 0000")


def test_sort_is_utf8_not_utf16_order() -> None:
    # In UTF-16, U+1F600 (surrogates D83D..) sorts before U+FF61; in UTF-8 (F0.. vs EF..) after.
    encoded = canonical_encryption_context({"\U0001f600": "x", "\uff61": "y"})
    assert encoded == _h("0002 0003 efbda1 0001 79 0004 f09f9880 0001 78")


def test_case_sensitive() -> None:
    lower = canonical_encryption_context({"purpose": "test"})
    assert lower != canonical_encryption_context({"Purpose": "test"})
    assert lower != canonical_encryption_context({"purpose": "Test"})


def test_length_prefixes_make_it_unambiguous() -> None:
    assert canonical_encryption_context({"a": "bc"}) != canonical_encryption_context({"ab": "c"})
    assert canonical_encryption_context({"a": "b", "c": "d"}) != canonical_encryption_context({"a": "bcd"})
    assert canonical_encryption_context({"": "a"}) != canonical_encryption_context({"a": ""})


def test_limits_are_inclusive() -> None:
    big = "k" * 65535
    encoded = canonical_encryption_context({big: big})
    assert encoded[:4] == _h("0001 ffff")
    assert len(encoded) == 2 + 2 * (2 + 65535)
    many = {str(i): "" for i in range(65535)}
    assert canonical_encryption_context(many)[:2] == b"\xff\xff"


@pytest.mark.parametrize(
    "context",
    [
        {"k" * 65536: "v"},
        {"k": "v" * 65536},
        {"\u00e9" * 32768: "v"},  # 32768 characters but 65536 UTF-8 bytes
        {"a": "b", "k" * 65536: "v"},  # the multi-pair path too
        {"a": "b", "k": "v" * 65536},
        {str(i): "" for i in range(65536)},
        {"\ud800": "v"},  # lone surrogates cannot be UTF-8 encoded
        {"k": "\udfff"},
        {"a": "b", "\ud800": "v"},
        {"a": "b", "k": "x\udc80"},
    ],
    ids=[
        "long-key",
        "long-value",
        "long-multibyte-key",
        "long-key-multi",
        "long-value-multi",
        "too-many-pairs",
        "surrogate-key",
        "surrogate-value",
        "surrogate-key-multi",
        "surrogate-value-multi",
    ],
)
def test_invalid_contexts(context: dict[str, str]) -> None:
    with pytest.raises(ValidationException) as info:
        canonical_encryption_context(context)
    assert info.value.message == "Invalid EncryptionContext"
    assert info.value.__cause__ is None
