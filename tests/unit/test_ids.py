"""Key identifier parsing and ARN building."""

from __future__ import annotations

import pytest

from strongroom.domain.ids import RefKind, alias_arn, is_key_id, key_arn, new_key_id, parse_key_identifier
from strongroom.errors import NotFoundException

KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("raw", "kind", "name", "account", "region"),
    [
        (KEY, RefKind.KEY, KEY, None, None),
        ("mrk-" + "a" * 32, RefKind.KEY, "mrk-" + "a" * 32, None, None),
        (f"arn:aws:kms:us-east-2:111122223333:key/{KEY}", RefKind.KEY, KEY, "111122223333", "us-east-2"),
        ("alias/ExampleAlias", RefKind.ALIAS, "alias/ExampleAlias", None, None),
        (
            "arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias",
            RefKind.ALIAS,
            "alias/ExampleAlias",
            "111122223333",
            "us-east-2",
        ),
        (
            "arn:aws-cn:kms:cn-north-1:111122223333:alias/a/b",
            RefKind.ALIAS,
            "alias/a/b",
            "111122223333",
            "cn-north-1",
        ),
    ],
)
def test_forms(raw, kind, name, account, region):
    ref = parse_key_identifier(raw)
    assert (ref.kind, ref.name, ref.account, ref.region, ref.raw) == (kind, name, account, region, raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("fake-key-id", "Invalid keyId 'fake-key-id'"),
        ("a" * 32, f"Invalid keyId '{'a' * 32}'"),
        ("mrk-fake-key-id", "Invalid keyId 'mrk-fake-key-id'"),
        (KEY.upper(), f"Invalid keyId '{KEY.upper()}'"),
        ("arn:aws:kms:us-east-1:111122223333:key/foo", "Invalid keyId foo"),
        ("arn:aws:s3:::bucket", "Invalid arn arn:aws:s3:::bucket"),
        (
            "arn:aws:kms:us-east-1:111122223333:alias/",
            "Invalid arn arn:aws:kms:us-east-1:111122223333:alias/",
        ),
    ],
)
def test_malformed(raw, message):
    with pytest.raises(NotFoundException) as info:
        parse_key_identifier(raw)
    assert info.value.message == message


def test_arns_and_partitions():
    assert key_arn("us-east-1", "111122223333", KEY) == f"arn:aws:kms:us-east-1:111122223333:key/{KEY}"
    assert key_arn("cn-north-1", "111122223333", KEY).startswith("arn:aws-cn:kms:cn-north-1:")
    assert key_arn("us-gov-west-1", "1", KEY).startswith("arn:aws-us-gov:")
    assert alias_arn("eu-west-1", "111122223333", "alias/x") == "arn:aws:kms:eu-west-1:111122223333:alias/x"


def test_new_key_ids():
    assert is_key_id(new_key_id()) and is_key_id(new_key_id(multi_region=True))
    assert new_key_id(multi_region=True).startswith("mrk-")
    assert new_key_id() != new_key_id()
