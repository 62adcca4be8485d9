"""Request bodies have exactly one reading: duplicate member names, deep nesting, lone surrogates refused."""

from __future__ import annotations

import json

import pytest

from strongroom.errors import SerializationException
from strongroom.protocol.json_body import MAX_DEPTH, parse_request_json


def refused(body: bytes) -> str:
    with pytest.raises(SerializationException) as info:
        parse_request_json(body)
    return info.value.message or ""


@pytest.mark.parametrize(
    "body",
    [
        b'{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",'
        b'"KeySpec":"AES_256","EncryptionContext":{"tenant":"alice","Tenant":"bob"}}',
        b'{"KeyId": "alias/a", "EncryptionContext": {"tenant": "tenant", "x": "KeyId"}}',
        b'{"Tags":[{"TagKey":"a","TagValue":"1"},{"TagKey":"b","TagValue":"2"}]}',
        b'{"a": {"a": {"a": 1}}, "b": [{"a": 2}, {"a": 3}]}',
        b'{"Description": "colons : in : strings {[ and brackets", "x" : 1 , "y"\n:\t2}',
        b'{"EncryptionContext": {"city": "Z\\u00fcrich", "quote": "say \\"hi\\""}}',
        b'{"EncryptionContext": {"\\u0074enant": "alice"}}',
        b'{"emoji": "\\ud83d\\ude00", "raw": "\xf0\x9f\x98\x80"}',
        b"{}",
    ],
)
def test_well_formed_bodies_parse_as_the_standard_library_reads_them(body: bytes) -> None:
    assert parse_request_json(body) == json.loads(body)


def test_an_empty_body_is_an_empty_object() -> None:
    assert parse_request_json(b"") == {}


@pytest.mark.parametrize(
    ("body", "name"),
    [
        (b'{"KeyId":"a","KeyId":"b"}', "KeyId"),
        (b'{"EncryptionContext":{"tenant":"alice","tenant":"bob"}}', "tenant"),
        (b'{"EncryptionContext":{"tenant":"alice", "tenant" :"alice"}}', "tenant"),
        (b'{"EncryptionContext":{"tenant":"alice","\\u0074enant":"bob"}}', "tenant"),
        (b'{"Tags":[{"TagKey":"a","TagKey":"b","TagValue":"1"}]}', "TagKey"),
        (b'{"a":{"b":{"c":{"d":1,"d":2}}}}', "d"),
        (b'{"note":"has \\"quotes\\"","x":1,"x":1}', "x"),
    ],
)
def test_a_repeated_member_name_is_refused(body: bytes, name: str) -> None:
    assert refused(body) == f'Request body has more than one member named "{name}" in one object'


def test_names_differing_in_case_are_different_members() -> None:
    body = b'{"EncryptionContext":{"tenant":"bob","Tenant":"alice"}}'
    assert parse_request_json(body) == {"EncryptionContext": {"tenant": "bob", "Tenant": "alice"}}


def test_nesting_is_limited() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert parse_request_json(nested(MAX_DEPTH))
    assert refused(nested(MAX_DEPTH + 1)) == f"Request body is nested more than {MAX_DEPTH} levels deep"
    lists = b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    assert refused(lists).startswith("Request body is nested more than")
    assert refused(b'{"a":"\\u00e9",' + lists[1:]).startswith("Request body is nested more than")
    # Many brackets, shallow: fine (and brackets inside strings do not count).
    wide = json.dumps({"a": [[] for _ in range(200)], "b": "[" * 500}).encode()
    assert parse_request_json(wide)["b"] == "[" * 500
    assert refused(b"[" * 5000 + b"]" * 5000) == "Request body is not valid JSON"


@pytest.mark.parametrize(
    "body",
    [
        b'{"EncryptionContext":{"tenant":"\\udfff"}}',
        b'{"EncryptionContext":{"\\ud800":"x"}}',
        b'{"a":"\\ud800x"}',
        b'{"a":"\xed\xbf\xbf"}',  # a surrogate as raw (invalid) UTF-8
    ],
)
def test_lone_surrogates_are_refused(body: bytes) -> None:
    assert refused(body) == "Request body is not valid JSON"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"1", b"null", b"true"])
def test_only_an_object_is_a_request(body: bytes) -> None:
    assert refused(body) == "Request body must be a JSON object"


@pytest.mark.parametrize("body", [b"{", b'{"a":NaN}', b'{"a":1e999}', b"\xff", b'{"a":1}{"b":2}'])
def test_invalid_json_is_refused(body: bytes) -> None:
    assert refused(body) == "Request body is not valid JSON"
