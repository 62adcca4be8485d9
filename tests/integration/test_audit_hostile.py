"""Hostile input over HTTP cannot crash a request, slip a change past the audit trail, or break the
trail for other clients: each reproducer of the red-team run, with the answer, the state afterwards
and the record (present and bounded, or no effect)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from strongroom.audit.events import MAX_ELEMENT_BYTES, MAX_TEXT_CHARS
from tests.conftest import ACCOUNT_ID, RunningServer, start_server
from tests.integration.signing import signed_headers
from tests.integration.test_audit import events


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("hostile") / "data", "--account-id", ACCOUNT_ID)
    yield server
    server.stop()


Answer = tuple[int, dict[str, str], bytes]


def post(server: RunningServer, headers: dict[str, str], body: bytes) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def call(server: RunningServer, operation: str, body: bytes) -> Answer:
    return post(server, signed_headers(server.endpoint, operation, body), body)


def json_error(answer: Answer) -> str:
    """The error code of an AWS JSON error answer (and that it is one, with a request id)."""
    status, headers, body = answer
    assert 400 <= status < 500, (status, body[:200])
    assert headers["content-type"] == "application/x-amz-json-1.1" and headers["x-amzn-requestid"]
    code = str(orjson.loads(body)["__type"])
    assert headers["x-amzn-errortype"] == code
    return code


def record_of(server: RunningServer, request_id: str) -> dict[str, Any]:
    found = [event for event in events(server) if event["requestID"] == request_id]
    assert len(found) == 1, request_id
    return found[0]


def test_an_oversized_unknown_member_is_dropped_and_the_change_recorded(fresh: RunningServer) -> None:
    status, headers, body = call(
        fresh, "CreateKey", orjson.dumps({"Description": "x", "Junk": "A" * 300_000})
    )
    assert status == 200
    key_arn = orjson.loads(body)["KeyMetadata"]["Arn"]
    record = record_of(fresh, headers["x-amzn-requestid"])
    assert record["eventName"] == "CreateKey" and "errorCode" not in record
    assert record["requestParameters"] == {"description": "x"}
    assert record["resources"][0]["ARN"] == key_arn
    assert len(orjson.dumps(record)) < 8192


def test_an_unauthenticated_request_with_a_huge_user_agent(fresh: RunningServer) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.CreateKey",
        "User-Agent": "U" * 1_000_000,
    }
    answer = post(fresh, headers, b"{}")
    assert json_error(answer) == "MissingAuthenticationTokenException"
    record = record_of(fresh, answer[1]["x-amzn-requestid"])
    assert record["errorCode"] == "MissingAuthenticationTokenException"
    assert record["userAgent"] == "U" * MAX_TEXT_CHARS and record["omitted"] is True


def test_deep_nesting_is_refused_before_anything_changes(fresh: RunningServer) -> None:
    _, _, body = call(fresh, "CreateKey", b"{}")
    key_id = orjson.loads(body)["KeyMetadata"]["KeyId"]
    junk = b"[" * 300 + b"]" * 300
    answer = call(fresh, "DisableKey", b'{"KeyId": "' + key_id.encode() + b'", "Junk": ' + junk + b"}")
    assert json_error(answer) == "SerializationException"
    record = record_of(fresh, answer[1]["x-amzn-requestid"])
    assert record["eventName"] == "DisableKey" and record["errorCode"] == "SerializationException"
    _, _, body = call(fresh, "DescribeKey", orjson.dumps({"KeyId": key_id}))
    assert orjson.loads(body)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_lone_surrogate_in_a_policy_gets_a_json_error_and_a_record(fresh: RunningServer) -> None:
    _, _, body = call(fresh, "CreateKey", b"{}")
    key_id = orjson.loads(body)["KeyMetadata"]["KeyId"]
    answer = call(fresh, "PutKeyPolicy", orjson.dumps({"KeyId": key_id, "Policy": '{"\\udfff": 1}'}))
    assert json_error(answer) == "MalformedPolicyDocumentException"
    record = record_of(fresh, answer[1]["x-amzn-requestid"])
    assert record["errorCode"] == "MalformedPolicyDocumentException"


def test_large_request_parameters_are_omitted_not_fatal(fresh: RunningServer) -> None:
    tokens = ["t" * 8000] * 10  # GrantTokens: valid in shape, not tokens: the record keeps digests only
    answer = call(fresh, "ListKeys", orjson.dumps({"Limit": 10, "Junk": ["x" * 1000] * 500}))
    assert answer[0] == 200
    huge = {"KeyId": "alias/none", "EncryptionContext": {f"k{i}": "v" * 900 for i in range(200)}}
    answer = call(fresh, "Encrypt", orjson.dumps(huge | {"Plaintext": "AA==", "GrantTokens": tokens}))
    assert json_error(answer) in {"NotFoundException", "ValidationException"}
    record = record_of(fresh, answer[1]["x-amzn-requestid"])
    assert record["requestParameters"] is None and record["omitted"] is True
    assert len(orjson.dumps(record)) < MAX_ELEMENT_BYTES


def test_a_flood_of_oversized_unauthenticated_requests_does_not_fail_signed_changes(
    fresh: RunningServer,
) -> None:
    _, _, body = call(fresh, "CreateKey", b"{}")
    key_id = orjson.loads(body)["KeyMetadata"]["KeyId"]
    stop = threading.Event()
    flood_answers: list[int] = []
    failures: list[Any] = []

    def flood() -> None:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.DisableKey",
            "User-Agent": "F" * 1_000_000,
        }
        body = orjson.dumps({"KeyId": key_id, "Junk": "J" * 500_000})
        for _ in range(200):  # bounded; ends as soon as the signed clients are done
            if stop.is_set():
                return
            try:
                flood_answers.append(post(fresh, headers, body)[0])
            except OSError as error:
                failures.append(("flood", error))

    def changes(client: int) -> None:
        for n in range(25):
            answer = call(
                fresh, "UpdateKeyDescription", orjson.dumps({"KeyId": key_id, "Description": f"{client}-{n}"})
            )
            if answer[0] != 200:
                failures.append((client, n, answer[0], answer[2][:200]))

    flooders = [threading.Thread(target=flood) for _ in range(2)]
    signers = [threading.Thread(target=changes, args=(c,)) for c in range(2)]
    for thread in flooders + signers:
        thread.start()
    for thread in signers:
        thread.join(timeout=120)
    stop.set()
    for thread in flooders:
        thread.join(timeout=120)
    assert failures == []
    assert flood_answers and set(flood_answers) == {400}
    _, _, body = call(fresh, "DescribeKey", orjson.dumps({"KeyId": key_id}))
    assert orjson.loads(body)["KeyMetadata"]["KeyState"] == "Enabled"
    described = [e for e in events(fresh) if e["eventName"] == "UpdateKeyDescription"]
    assert len(described) == 50 and all("errorCode" not in e for e in described)


def test_the_trail_stays_intact(fresh: RunningServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    verified = subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", "audit", "verify", "--data-dir", str(fresh.data_dir)],
        capture_output=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
