"""Aliases and tags over HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import ACCOUNT_ID, REGION, aws_error

PREFIX_MESSAGE = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)


def test_alias_lifecycle(kms, key_id):
    name = f"alias/life-{key_id}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    entries = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [e["AliasName"] for e in entries] == [name]
    assert entries[0]["TargetKeyId"] == key_id  # bare id, not the ARN
    assert entries[0]["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"
    assert "CreationDate" in entries[0] and "LastUpdatedDate" in entries[0]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=name, TargetKeyId=other)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []
    kms.delete_alias(AliasName=name)
    assert aws_error(kms.describe_key, KeyId=name)[0] == "NotFoundException"
    assert aws_error(kms.delete_alias, AliasName=name) == (
        "NotFoundException",
        f"Alias arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name} is not found.",
        400,
    )


def test_alias_errors(kms, key_id):
    assert aws_error(kms.create_alias, AliasName="no-prefix", TargetKeyId=key_id) == (
        "ValidationException",
        PREFIX_MESSAGE,
        400,
    )
    assert aws_error(kms.create_alias, AliasName="alias/aws/reserved", TargetKeyId=key_id)[0] == (
        "NotAuthorizedException"
    )
    code, message, _ = aws_error(kms.create_alias, AliasName="alias/bad name!", TargetKeyId=key_id)
    assert code == "ValidationException" and "regular expression pattern" in message
    name = f"alias/dup-{key_id}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert aws_error(kms.create_alias, AliasName=name, TargetKeyId=key_id) == (
        "AlreadyExistsException",
        f"An alias with the name arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name} already exists",
        400,
    )
    assert aws_error(kms.create_alias, AliasName=f"alias/x-{key_id}", TargetKeyId=name) == (
        "InvalidArnException",
        "Key Aliases are not supported for this operation.",
        400,
    )
    assert aws_error(kms.update_alias, AliasName=f"alias/missing-{key_id}", TargetKeyId=key_id)[0] == (
        "NotFoundException"
    )


def test_alias_name_with_a_colon_is_refused_but_alias_arns_still_name_keys(kms, key_id):
    """The model's pattern admits ``:`` (alias ARNs have colons); the name itself may not hold one. AWS's
    answer, from hashicorp/terraform-provider-aws#12891: ``<name> contains invalid characters for an
    alias``."""
    name = f"alias/my:alias-{key_id}"
    assert aws_error(kms.create_alias, AliasName=name, TargetKeyId=key_id) == (
        "ValidationException",
        f"{name} contains invalid characters for an alias",
        400,
    )
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []
    # such an alias cannot exist, so the other alias operations find nothing
    assert aws_error(kms.update_alias, AliasName=name, TargetKeyId=key_id)[0] == "NotFoundException"
    assert aws_error(kms.delete_alias, AliasName=name)[0] == "NotFoundException"
    # every character the docs allow still works, and the alias ARN (colons and all) names the key
    good = f"alias/ok/Path_with-Dashes09-{key_id}"
    kms.create_alias(AliasName=good, TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{good}"
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key_id
    blob = kms.encrypt(KeyId=alias_arn, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=alias_arn)["Plaintext"] == b"x"
    code, message, _ = aws_error(kms.create_alias, AliasName=alias_arn, TargetKeyId=key_id)
    assert (code, message) == ("ValidationException", PREFIX_MESSAGE)


def test_alias_to_key_pending_deletion(kms, key_id):
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert aws_error(kms.create_alias, AliasName=f"alias/pd-{key_id}", TargetKeyId=key_id)[0] == (
        "KMSInvalidStateException"
    )


def test_alias_limit_per_key(server):
    client = server.client(region="ca-central-1")
    target = client.create_key()["KeyMetadata"]["KeyId"]
    for i in range(50):
        client.create_alias(AliasName=f"alias/many-{i:02d}", TargetKeyId=target)
    assert (
        aws_error(client.create_alias, AliasName="alias/many-50", TargetKeyId=target)[0]
        == "LimitExceededException"
    )
    first = client.list_aliases(Limit=20)
    assert len(first["Aliases"]) == 20 and first["Truncated"] is True
    every = (
        client.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 7}).build_full_result()
    )
    assert sorted(a["AliasName"] for a in every["Aliases"]) == [f"alias/many-{i:02d}" for i in range(50)]


def test_tags(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": ""}])
    kms.tag_resource(
        KeyId=key_id, Tags=[{"TagKey": "c", "TagValue": "3"}, {"TagKey": "a", "TagValue": "one"}]
    )
    tags = kms.list_resource_tags(KeyId=key_id)
    assert tags["Tags"] == [
        {"TagKey": "a", "TagValue": "one"},
        {"TagKey": "b", "TagValue": ""},
        {"TagKey": "c", "TagValue": "3"},
    ]
    assert tags["Truncated"] is False
    kms.untag_resource(KeyId=key_id, TagKeys=["b", "not-there"])
    assert [t["TagKey"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]] == ["a", "c"]
    page = kms.list_resource_tags(KeyId=key_id, Limit=1)
    assert page["Truncated"] is True and len(page["Tags"]) == 1
    rest = kms.list_resource_tags(KeyId=key_id, Marker=page["NextMarker"])
    assert [t["TagKey"] for t in rest["Tags"]] == ["c"]


def test_create_key_with_tags(kms):
    meta = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "core"}])["KeyMetadata"]
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "core"}]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}], "Duplicate tag keys"),
        ([{"TagKey": "aws:x", "TagValue": "1"}], "Tags beginning with aws: are reserved"),
        ([{"TagKey": "AWS:x", "TagValue": "1"}], "Tags beginning with aws: are reserved"),
        ([{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)], "Too many tags"),
    ],
)
def test_tag_rules(kms, key_id, tags, message):
    assert aws_error(kms.tag_resource, KeyId=key_id, Tags=tags) == ("TagException", message, 400)
    assert aws_error(kms.create_key, Tags=tags) == ("TagException", message, 400)


def test_tag_total_limit_counts_existing(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(50)])
    assert aws_error(kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "one-more", "TagValue": "v"}]) == (
        "TagException",
        "Too many tags",
        400,
    )
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k0", "TagValue": "replaced"}])


def test_tag_length_validation(kms, key_id):
    long_key = "k" * 129
    assert aws_error(kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": long_key, "TagValue": "v"}]) == (
        "ValidationException",
        f"1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' "
        "failed to satisfy constraint: Member must have length less than or equal to 128",
        400,
    )


def test_tags_refused_when_pending_deletion(kms, key_id):
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert aws_error(kms.tag_resource, KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "b"}])[0] == (
        "KMSInvalidStateException"
    )
