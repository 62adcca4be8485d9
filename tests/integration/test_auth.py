"""SigV4 authentication over HTTP: every failure gets the AWS error an SDK expects, never a 500."""

from __future__ import annotations

import datetime
import urllib.request
from unittest import mock

import orjson
import pytest

from tests.conftest import ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, aws_error, start_server
from tests.integration.signing import signed_headers


def raw_post(endpoint: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(endpoint + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), orjson.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), orjson.loads(error.read() or b"{}")


def signed(
    endpoint: str,
    target: str,
    body: bytes,
    key: str = ADMIN_ACCESS_KEY,
    secret: str = ADMIN_SECRET_KEY,
    region: str = "us-east-1",
    service: str = "kms",
) -> dict[str, str]:
    operation = target.removeprefix("TrentService.")
    return signed_headers(endpoint, operation, body, key=key, secret=secret, region=region, service=service)


def test_wrong_secret(server):
    client = server.client(secret_key="wrong" * 8)
    code, message, status = aws_error(client.list_keys)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_unknown_access_key(server):
    assert aws_error(server.client(access_key="AKIAUNKNOWN000000000").list_keys) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


def test_missing_authentication(server):
    status, headers, body = raw_post(
        server.endpoint,
        b"{}",
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"},
    )
    assert status == 400
    assert body == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert headers["x-amzn-requestid"]


@pytest.mark.parametrize("minutes", [-6, 6])
def test_request_time_skew(server, minutes):
    skewed = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed.replace(tzinfo=None)):
        headers = signed(server.endpoint, "TrentService.ListKeys", b"{}")
    status, _, body = raw_post(server.endpoint, b"{}", headers)
    assert status == 400 and body["__type"] == "InvalidSignatureException"
    assert body["message"].startswith("Signature expired" if minutes < 0 else "Signature not yet current")


def test_tampered_body(server):
    headers = signed(server.endpoint, "TrentService.GenerateRandom", b'{"NumberOfBytes": 16}')
    status, _, body = raw_post(server.endpoint, b'{"NumberOfBytes": 32}', headers)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


def test_wrong_service_scope(server):
    headers = signed(server.endpoint, "TrentService.ListKeys", b"{}", service="s3")
    status, _, body = raw_post(server.endpoint, b"{}", headers)
    assert (status, body["__type"]) == (400, "InvalidSignatureException")


def test_malformed_authorization(server):
    headers = signed(server.endpoint, "TrentService.ListKeys", b"{}")
    headers["Authorization"] = "AWS4-HMAC-SHA256 garbage"
    status, _, body = raw_post(server.endpoint, b"{}", headers)
    assert (status, body["__type"]) == (400, "IncompleteSignatureException")


def test_unknown_target_and_bad_json(server):
    status, _, body = raw_post(
        server.endpoint, b"{}", signed(server.endpoint, "TrentService.NoSuchThing", b"{}")
    )
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    for bad in (b"{not json", b"[1, 2]", b'"text"'):
        status, _, body = raw_post(
            server.endpoint, bad, signed(server.endpoint, "TrentService.ListKeys", bad)
        )
        assert (status, body["__type"]) == (400, "SerializationException")
    wrong_type = b'{"NumberOfBytes": "many"}'
    status, _, body = raw_post(
        server.endpoint, wrong_type, signed(server.endpoint, "TrentService.GenerateRandom", wrong_type)
    )
    assert (status, body["__type"]) == (400, "SerializationException")
    bad_blob = b'{"CiphertextBlob": "***not base64***"}'
    status, _, body = raw_post(
        server.endpoint, bad_blob, signed(server.endpoint, "TrentService.Decrypt", bad_blob)
    )
    assert (status, body["__type"]) == (400, "SerializationException")


def test_empty_body_is_an_empty_object(server):
    status, _, body = raw_post(server.endpoint, b"", signed(server.endpoint, "TrentService.ListKeys", b""))
    # The defaults of an empty request (Limit 100): the shared server may hold more keys than that.
    assert status == 200 and isinstance(body["Keys"], list) and len(body["Keys"]) <= 100
    assert body["Truncated"] is ("NextMarker" in body)


def test_dev_mode_accepts_any_credentials(tmp_path):
    dev = start_server(tmp_path / "data", "--dev")
    try:
        client = dev.client(access_key="AKIAANYTHING", secret_key="anything")
        meta = client.create_key()["KeyMetadata"]
        assert meta["AWSAccountId"] == "111122223333"
        bogus = signed(dev.endpoint, "TrentService.ListKeys", b"{}")
        bogus["Authorization"] = bogus["Authorization"][:-8] + "00000000"
        status, _, body = raw_post(dev.endpoint, b"{}", bogus)
        assert status == 200 and body["Keys"][0]["KeyId"] == meta["KeyId"]
        status, _, body = raw_post(dev.endpoint, b"{}", {"X-Amz-Target": "TrentService.ListKeys"})
        assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")
    finally:
        assert dev.stop() == 0


def test_oversized_body_is_refused(server):
    body = b'{"Plaintext": "' + b"A" * (2 << 20) + b'"}'
    status, _, payload = raw_post(
        server.endpoint, body, signed(server.endpoint, "TrentService.Encrypt", body)
    )
    assert status == 413 and payload["__type"] == "SerializationException"
    assert raw_post(server.endpoint, b"{}", signed(server.endpoint, "TrentService.ListKeys", b"{}"))[0] == 200
