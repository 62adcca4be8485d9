"""The audit trail over HTTP: one CloudTrail-shaped record per request with the fields AWS logs, nothing
secret in any record, requests refused when the trail cannot be written, the chain checked by
``strongroom audit verify``, no acknowledged request lost to a SIGKILL, GetKeyLastUsage, and the
``audit query`` / ``export`` commands."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from strongroom.audit.chain import parse_line
from tests.conftest import ACCOUNT_ID, ADMIN_ACCESS_KEY, REGION, RunningServer, aws_error, start_server
from tests.integration.identities import make_identity


@pytest.fixture
def fresh(tmp_path: Path) -> Any:
    server = start_server(tmp_path / "data", "--account-id", ACCOUNT_ID)
    yield server
    server.stop()


def trail_bytes(server: RunningServer) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((server.data_dir / "audit").glob("trail-*.jsonl")))


def events(server: RunningServer) -> list[dict[str, Any]]:
    return [orjson.loads(parse_line(line).event) for line in trail_bytes(server).splitlines(keepends=True)]


def by_request(server: RunningServer) -> dict[str, dict[str, Any]]:
    return {event["requestID"]: event for event in events(server)}


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def failed_request_id(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["ResponseMetadata"]["RequestId"], info.value.response["Error"]["Code"]


def strongroom(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "strongroom.cli.main", *args], capture_output=True, input=stdin, timeout=120
    )


def test_records_of_each_operation_family(fresh: RunningServer) -> None:
    kms: Any = fresh.client()
    created = kms.create_key(Description="audited")
    arn, key_id = created["KeyMetadata"]["Arn"], created["KeyMetadata"]["KeyId"]
    alias = kms.create_alias(AliasName="alias/audited", TargetKeyId=key_id)
    data_key = kms.generate_data_key(
        KeyId="alias/audited", KeySpec="AES_256", EncryptionContext={"dept": "x"}
    )
    sealed = kms.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext={"dept": "x"})
    opened = kms.decrypt(CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"dept": "x"})
    grant = kms.create_grant(
        KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:root", Operations=["Decrypt"]
    )
    bad_decrypt = failed_request_id(
        kms.decrypt, CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={}
    )
    missing = failed_request_id(kms.describe_key, KeyId="alias/missing")
    kms.disable_key(KeyId=key_id)
    disabled = failed_request_id(kms.generate_data_key, KeyId=key_id, NumberOfBytes=16)
    user = make_identity(fresh)  # no identity policy: denied
    denied = failed_request_id(user.client.describe_key, KeyId=arn)
    records = by_request(fresh)

    record = records[request_id(created)]
    assert record["eventName"] == "CreateKey" and record["readOnly"] is False
    assert record["responseElements"]["keyMetadata"]["arn"] == arn
    assert record["resources"] == [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": arn}]
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:root",
        "accountId": ACCOUNT_ID,
        "accessKeyId": ADMIN_ACCESS_KEY,
    }
    for field in ("eventVersion", "eventTime", "eventID", "userAgent", "recipientAccountId", "eventCategory"):
        assert record[field], field
    assert record["eventSource"] == "kms.amazonaws.com" and record["awsRegion"] == REGION
    assert record["sourceIPAddress"] == "127.0.0.1" and "Botocore" in record["userAgent"]
    assert record["eventType"] == "AwsApiCall" and record["managementEvent"] is True

    assert records[request_id(alias)]["requestParameters"] == {
        "aliasName": "alias/audited",
        "targetKeyId": key_id,
    }
    record = records[request_id(data_key)]
    assert record["requestParameters"] == {
        "keyId": "alias/audited",  # as the caller sent it
        "keySpec": "AES_256",
        "encryptionContext": {"dept": "x"},
    }
    assert record["responseElements"] is None and record["readOnly"] is True
    assert record["additionalEventData"]["keyMaterialId"] == data_key["KeyMaterialId"]
    assert record["resources"][0]["ARN"] == arn

    record = records[request_id(opened)]
    assert record["requestParameters"] == {
        "encryptionContext": {"dept": "x"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert record["resources"][0]["ARN"] == arn

    record = records[request_id(grant)]
    assert record["responseElements"] == {"grantId": grant["GrantId"]}  # and never the grant token
    assert record["requestParameters"]["operations"] == ["Decrypt"]

    for (rid, code), message_part in [
        (bad_decrypt, None),
        (missing, "alias/missing is not found"),
        (disabled, "is disabled"),
        (denied, "is not authorized to perform: kms:DescribeKey"),
    ]:
        record = records[rid]
        assert record["errorCode"] == code
        if message_part is None:
            assert "errorMessage" not in record  # InvalidCiphertextException carries none
        else:
            assert message_part in record["errorMessage"]
    assert records[disabled[0]]["resources"][0]["ARN"] == arn  # resolved, then refused
    assert records[denied[0]]["userIdentity"]["type"] == "IAMUser"
    assert records[denied[0]]["userIdentity"]["userName"] == user.name


def test_failed_authentication_is_recorded(fresh: RunningServer) -> None:
    wrong: Any = fresh.client(secret_key="not-the-secret-0123456789012345678901234")
    rid, code = failed_request_id(wrong.list_keys)
    record = by_request(fresh)[rid]
    assert code == record["errorCode"] == "InvalidSignatureException"
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": ADMIN_ACCESS_KEY}
    assert record["eventName"] == "ListKeys" and record["requestParameters"] is None


def test_no_secret_reaches_the_trail(fresh: RunningServer) -> None:
    kms: Any = fresh.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    secrets: list[bytes] = []
    for _ in range(5):
        data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
        secrets += [data_key["Plaintext"], data_key["CiphertextBlob"]]
        secrets.append(kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"])
        secrets.append(kms.generate_random(NumberOfBytes=32)["Plaintext"])
        plaintext = os.urandom(24)
        secrets += [plaintext, kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]]
    token = kms.create_grant(
        KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{ACCOUNT_ID}:root", Operations=["Encrypt"]
    )["GrantToken"]
    kms.encrypt(KeyId=key_id, Plaintext=b"with a token", GrantTokens=[token])
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    message = os.urandom(40)
    signature = kms.sign(KeyId=signing_key, Message=message, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    kms.verify(KeyId=signing_key, Message=message, Signature=signature, SigningAlgorithm="ECDSA_SHA_256")
    secrets += [message, signature, kms.get_public_key(KeyId=signing_key)["PublicKey"]]
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=mac_key, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    kms.verify_mac(KeyId=mac_key, Message=message, Mac=mac, MacAlgorithm="HMAC_SHA_256")
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    rsa_blob = kms.encrypt(KeyId=rsa_key, Plaintext=message, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    kms.decrypt(
        KeyId=rsa_key, CiphertextBlob=rsa_blob["CiphertextBlob"], EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    secrets += [mac, rsa_blob["CiphertextBlob"]]
    trail = trail_bytes(fresh)
    for secret in secrets:
        for form in (secret, base64.b64encode(secret), secret.hex().encode()):
            assert form not in trail
    assert token.encode() not in trail and token[:32].encode() not in trail
    assert b'"grantTokens":["sha256:' in trail


def test_verify_detects_edited_deleted_and_inserted_records(fresh: RunningServer, tmp_path: Path) -> None:
    kms: Any = fresh.client()
    for _ in range(6):
        kms.list_keys()
    fresh.stop()
    good = strongroom("audit", "verify", "--data-dir", str(fresh.data_dir))
    assert good.returncode == 0 and good.stdout.startswith(b"OK: ")
    segment = next((fresh.data_dir / "audit").glob("trail-*.jsonl"))
    lines = segment.read_bytes().splitlines(keepends=True)
    original = segment.read_bytes()
    cases = {
        "altered": lines[:2] + [lines[2].replace(b'"ListKeys"', b'"ListAliases"')] + lines[3:],
        "missing": lines[:2] + lines[3:],
        "inserted or repeated": lines[:3] + [lines[2]] + lines[3:],
        "does not link": lines[:3]
        + [re.sub(rb'"previousHash":"[0-9a-f]{64}"', b'"previousHash":"' + b"a" * 64 + b'"', lines[3])]
        + lines[4:],
    }
    for problem, tampered in cases.items():
        segment.write_bytes(b"".join(tampered))
        result = strongroom("audit", "verify", "--data-dir", str(fresh.data_dir))
        assert result.returncode == 1, problem
        assert problem.encode() in result.stdout, (problem, result.stdout)
    segment.write_bytes(original + original[:40])  # a torn last record: reported, not a break
    result = strongroom("audit", "verify", "--data-dir", str(fresh.data_dir))
    assert result.returncode == 0 and b"incomplete" in result.stderr


def test_a_full_disk_refuses_requests_and_loses_no_record(fresh: RunningServer) -> None:
    kms: Any = fresh.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    answered = [request_id(kms.list_keys())]
    fresh.stop()
    audit = fresh.data_dir / "audit"
    (audit / "trail-000002.jsonl").symlink_to("/dev/full")  # the next segment: every write gets ENOSPC
    server = start_server(fresh.data_dir)
    try:
        kms = server.client()
        code, message, status = aws_error(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256")
        assert (code, status) == ("KMSInternalException", 500)
        assert message == "The request could not be recorded in the audit trail."
        code, _, _ = aws_error(kms.create_key)  # refused before anything changes
        assert code == "KMSInternalException"
        ready = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{server.endpoint}/readyz"],
            capture_output=True,
            text=True,
        )
        assert ready.stdout == "503"
        (audit / "trail-000002.jsonl").unlink()  # space again: the next batch succeeds
        answered.append(request_id(kms.list_keys()))
        assert len(kms.list_keys()["Keys"]) == 1  # the refused CreateKey created nothing
    finally:
        server.stop()
    records = {e["requestID"] for e in events(fresh)}
    assert set(answered) <= records
    assert strongroom("audit", "verify", "--data-dir", str(fresh.data_dir)).returncode == 0


def test_sigkill_under_load_loses_no_acknowledged_record(fresh: RunningServer) -> None:
    key_id = fresh.client().create_key()["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    acknowledged: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def load() -> None:
        kms: Any = fresh.client()
        while not enough.is_set() or len(acknowledged) < 400:
            try:
                rid = request_id(kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"))
            except Exception:
                return  # the server is gone
            with lock:
                acknowledged.append(rid)
                if len(acknowledged) >= 300:
                    enough.set()

    threads = [threading.Thread(target=load, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=60)
    fresh.process.send_signal(signal.SIGKILL)  # the server we started, by its PID, mid-load
    fresh.process.wait(timeout=10)
    deadline = time.monotonic() + 30  # its worker and audit writer die with it: nothing keeps serving
    while _answers(fresh.port):
        assert time.monotonic() < deadline, "a worker outlived its killed server"
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=30)
    with lock:
        answered = set(acknowledged)
    recorded = {e["requestID"] for e in events(fresh)}
    assert answered <= recorded, len(answered - recorded)
    assert strongroom("audit", "verify", "--data-dir", str(fresh.data_dir)).returncode == 0
    restarted = start_server(fresh.data_dir)  # cuts off a torn record, if any, and continues the chain
    try:
        restarted.client().list_keys()  # type: ignore[attr-defined]
    finally:
        restarted.stop()
    result = strongroom("audit", "verify", "--data-dir", str(fresh.data_dir))
    assert result.returncode == 0 and b"incomplete" not in result.stderr


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_get_key_last_usage(fresh: RunningServer) -> None:
    kms: Any = fresh.client()
    created = kms.create_key()["KeyMetadata"]
    usage = kms.get_key_last_usage(KeyId=created["KeyId"])
    assert usage["KeyId"] == created["KeyId"] and "KeyLastUsage" not in usage
    assert usage["TrackingStartDate"] >= usage["KeyCreationDate"] == created["CreationDate"]
    sealed = kms.encrypt(KeyId=created["Arn"], Plaintext=b"x", EncryptionContext={"a": "b"})
    aws_error(kms.decrypt, CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"a": "c"})  # fails
    kms.describe_key(KeyId=created["KeyId"])  # not cryptographic
    last = kms.get_key_last_usage(KeyId=created["Arn"])["KeyLastUsage"]
    assert last["Operation"] == "Encrypt" and last["KmsRequestId"] == request_id(sealed)
    assert last["CloudTrailEventId"] == by_request(fresh)[request_id(sealed)]["eventID"]
    code, message, _ = aws_error(kms.get_key_last_usage, KeyId="alias/anything")
    assert (code, message) == ("InvalidArnException", "Key Aliases are not supported for this operation.")


def test_audit_query_and_export(fresh: RunningServer, tmp_path: Path) -> None:
    kms: Any = fresh.client()
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.generate_data_key(KeyId=first, NumberOfBytes=16)
    kms.generate_data_key(KeyId=second, NumberOfBytes=16)
    aws_error(kms.describe_key, KeyId="alias/none")
    data = str(fresh.data_dir)

    def query(*filters: str) -> list[dict[str, Any]]:
        result = strongroom("audit", "query", "--data-dir", data, *filters)
        assert result.returncode == 0, result.stderr
        return [orjson.loads(line) for line in result.stdout.splitlines()]

    assert [e["eventName"] for e in query("--key", first)] == ["CreateKey", "GenerateDataKey"]
    assert len(query("--event-name", "GenerateDataKey")) == 2
    assert [e["errorCode"] for e in query("--error-code", "NotFoundException")] == ["NotFoundException"]
    assert all("errorCode" not in e for e in query("--error-code", "-"))
    assert (
        query("--principal", f"arn:aws:iam::{ACCOUNT_ID}:root", "--event-name", "CreateKey")[1]["eventName"]
        == "CreateKey"
    )
    assert query("--start-time", "2000-01-01", "--end-time", "2000-01-02") == []
    exported = tmp_path / "export.jsonl"
    assert strongroom("audit", "export", "--data-dir", data, "-o", str(exported)).returncode == 0
    assert len(exported.read_bytes().splitlines()) == len(events(fresh))
    assert strongroom("audit", "query", "--data-dir", data, "--start-time", "yesterday").returncode == 2
    shutil.rmtree(tmp_path / "nothing", ignore_errors=True)
    assert strongroom("audit", "verify", "--data-dir", str(tmp_path / "nothing")).returncode == 1
