"""The audit trail's pieces: the line format and chain (known answers), the event builder (what it logs
and what it never logs), the appender (tail repair, roll-over, failure leaves nothing), the in-process
sink (group commit, failure and recovery), verify, and the last-usage index."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import orjson
import pytest

from strongroom.audit.appender import TrailAppender, list_segments
from strongroom.audit.chain import GENESIS, LinkError, format_line, link_hash, parse_line, segment_name
from strongroom.audit.events import AuditedCall, build_event, event_from_summary, summarize
from strongroom.audit.file_sink import FileAuditSink
from strongroom.audit.trail import EventFilter, LastUsageIndex, select, verify
from strongroom.operations.registry import CATALOG


def test_line_format_known_answer() -> None:
    event = b'{"eventName":"Decrypt"}'
    line, digest = format_line(GENESIS, 1, event)
    assert digest == hashlib.sha256(bytes(32) + (1).to_bytes(8, "big") + event).digest()
    assert line == (
        b'{"sequence":1,"previousHash":"'
        + b"0" * 64
        + b'","hash":"'
        + digest.hex().encode()
        + b'","event":'
        + event
        + b"}\n"
    )
    link = parse_line(line)
    assert (link.sequence, link.previous, link.hash, link.event) == (1, GENESIS, digest, event)
    assert link_hash(GENESIS, 1, event) == digest
    assert orjson.loads(line)["event"] == {"eventName": "Decrypt"}  # still one JSON object per line
    for bad in (b"", b"{}", line[:-3], b"x" + line):
        with pytest.raises(LinkError):
            parse_line(bad)
    assert segment_name(7) == "trail-000007.jsonl"


def call(**changes: object) -> AuditedCall:
    base = AuditedCall("req-1", 1_700_000_000.5, "10.0.0.1", "Boto3/1.43")
    base.operation, base.region = "GenerateDataKey", "us-east-1"
    base.access_key_id, base.account_id = "AKIAEXAMPLE", "111122223333"
    base.principal_arn = "arn:aws:iam::111122223333:user/path/alice"
    for name, value in changes.items():
        setattr(base, name, value)
    if "read_only" not in changes:  # as the edge sets it, from the operation's declaration
        base.read_only = CATALOG.is_read_only(base.operation)
    base.secret_members = CATALOG.secret_members(base.operation)
    return base


def test_event_fields_and_what_is_left_out() -> None:
    parameters = {
        "KeyId": "alias/app",
        "NumberOfBytes": 32,
        "EncryptionContext": {"TenantId": "a", "PlainKey": "b"},
        "GrantTokens": ["token-value-that-must-not-appear"],
        "Plaintext": "c2VjcmV0",
        "CiphertextBlob": "Y2lwaGVy",
    }
    event = build_event(
        call(parameters=parameters, key_arns=["arn:aws:kms:us-east-1:111122223333:key/k"]),
        {"KeyId": "arn:…", "Plaintext": b"x", "KeyMaterialId": "m1"},
        None,
        None,
        event_id="e-1",
    )
    assert event["eventTime"] == "2023-11-14T22:13:20Z" and event["eventID"] == "e-1"
    assert event["requestParameters"]["keyId"] == "alias/app"
    assert event["requestParameters"]["numberOfBytes"] == 32
    assert event["requestParameters"]["encryptionContext"] == {"TenantId": "a", "PlainKey": "b"}  # verbatim
    assert event["requestParameters"]["grantTokens"][0].startswith("sha256:")
    assert (
        "plaintext" not in event["requestParameters"] and "ciphertextBlob" not in event["requestParameters"]
    )
    assert event["responseElements"] is None and event["readOnly"] is True
    assert event["additionalEventData"] == {"keyMaterialId": "m1"}
    assert event["userIdentity"]["type"] == "IAMUser" and event["userIdentity"]["userName"] == "alice"
    assert event["resources"] == [
        {
            "accountId": "111122223333",
            "type": "AWS::KMS::Key",
            "ARN": "arn:aws:kms:us-east-1:111122223333:key/k",
        }
    ]
    text = orjson.dumps(event)
    assert (
        b"token-value-that-must-not-appear" not in text
        and b"c2VjcmV0" not in text
        and b"Y2lwaGVy" not in text
    )


def test_a_summary_holds_no_secret_and_shapes_the_same_event() -> None:
    parameters = {
        "KeyId": "k",
        "Plaintext": "c2VjcmV0",
        "GrantTokens": ["token-value-that-must-not-appear"],
        "Recipient": {"AttestationDocument": "YXR0ZXN0"},
        "EncryptionContext": {"Plaintext": "a context pair is kept verbatim"},
    }
    answered = call(operation="Encrypt", parameters=parameters)
    response = {"CiphertextBlob": b"blob", "KeyId": "arn", "KeyMaterialId": "m1"}
    sent = summarize(answered, response, None, None)
    for secret in (b"c2VjcmV0", b"token-value-that-must-not-appear", b"YXR0ZXN0", b"blob", b"CiphertextBlob"):
        assert secret not in sent
    event = orjson.loads(event_from_summary(sent, event_id="e-1"))
    assert event == build_event(answered, response, None, None, event_id="e-1")
    assert event["requestParameters"]["encryptionContext"] == {"Plaintext": "a context pair is kept verbatim"}
    assert event["additionalEventData"] == {"keyMaterialId": "m1"}
    for broken in (b"", b"{}", b"[1,2]", b"not json"):
        with pytest.raises(ValueError, match="not an audit summary"):
            event_from_summary(broken)


def test_management_events_keep_their_response_without_secrets() -> None:
    event = build_event(
        call(operation="CreateGrant", parameters={"KeyId": "k", "Operations": ["Decrypt"]}),
        {"GrantId": "g1", "GrantToken": "secret-token"},
        None,
        None,
    )
    assert event["responseElements"] == {"grantId": "g1"} and event["readOnly"] is False
    failed = build_event(
        call(operation="DisableKey", parameters={"KeyId": "k"}), None, "NotFoundException", "gone"
    )
    assert (failed["errorCode"], failed["errorMessage"], failed["responseElements"]) == (
        "NotFoundException",
        "gone",
        None,
    )
    assert CATALOG.is_read_only("ListGrants") and CATALOG.is_read_only("Decrypt")
    assert not CATALOG.is_read_only("ScheduleKeyDeletion")
    assert CATALOG.is_read_only("GetParametersForImport")  # not implemented: judged by its name
    unknown = build_event(AuditedCall("r", 0.0), None, "MissingAuthenticationTokenException", "no")
    assert unknown["userIdentity"] == {"type": "Unknown"} and unknown["requestParameters"] is None


def test_appender_repairs_a_torn_tail_and_rolls_over(tmp_path: Path) -> None:
    appender = TrailAppender(tmp_path, segment_bytes=400)
    appender.append([b'{"n":1}', b'{"n":2}'])
    appender.close()
    segment = list_segments(tmp_path)[-1]
    with open(segment, "ab") as handle:
        handle.write(b'{"sequence":3,"previous')  # a crash mid-write
    appender = TrailAppender(tmp_path, segment_bytes=400)
    for n in range(3, 12):
        appender.append([b'{"n":%d}' % n])
    appender.close()
    assert len(list_segments(tmp_path)) > 1  # rolled over, the chain continuing across segments
    report = verify(tmp_path)
    assert report.intact and report.records == 11 and report.torn_tail is None
    assert [e["n"] for e in select(tmp_path, EventFilter())] == list(range(1, 12))


def test_two_appenders_share_one_chain(tmp_path: Path) -> None:
    first, second = TrailAppender(tmp_path), TrailAppender(tmp_path)
    for n in range(10):
        (first if n % 3 else second).append([b'{"n":%d}' % n])
    assert verify(tmp_path).records == 10 and verify(tmp_path).intact


def test_two_appenders_follow_each_others_roll_overs(tmp_path: Path) -> None:
    # The first begins a segment every few records; the second, whose segments would be larger, must
    # notice and follow rather than go on in the segment it last wrote to.
    first, second = TrailAppender(tmp_path, segment_bytes=300), TrailAppender(tmp_path)
    for n in range(40):
        (first if n % 5 in (0, 1) else second).append([b'{"n":%d}' % n])
    report = verify(tmp_path)
    assert report.records == 40 and report.intact and len(list_segments(tmp_path)) >= 8
    assert [e["n"] for e in select(tmp_path, EventFilter())] == list(range(40))


def summary(n: int) -> bytes:
    return summarize(call(request_id=f"req-{n}"), None, None, None)


def test_a_failed_write_leaves_nothing_and_the_sink_recovers(tmp_path: Path) -> None:
    sink = FileAuditSink(tmp_path)
    assert sink.submit(summary(1)).wait() is None
    (tmp_path / segment_name(2)).symlink_to("/dev/full")
    error = sink.submit(summary(2)).wait()
    assert isinstance(error, OSError) and sink.failing
    (tmp_path / segment_name(2)).unlink()
    assert sink.submit(summary(3)).wait() is None and not sink.failing
    sink.close()
    assert [e["requestID"] for e in select(tmp_path, EventFilter())] == ["req-1", "req-3"]
    assert verify(tmp_path).intact


def test_group_commit_and_async_waiters(tmp_path: Path) -> None:
    sink = FileAuditSink(tmp_path)

    async def many() -> list[OSError | None]:
        batches = [sink.submit(summary(n), wake=False) for n in range(50)]
        sink.wake()
        return [await batch.wait_async() for batch in batches]

    assert asyncio.run(many()) == [None] * 50
    sink.close()
    assert verify(tmp_path).records == 50


def test_last_usage_index_reads_only_what_is_new(tmp_path: Path) -> None:
    arn = "arn:aws:kms:us-east-1:111122223333:key/k"
    appender = TrailAppender(tmp_path)
    index = LastUsageIndex(tmp_path, CATALOG.cryptographic)
    assert index.lookup(arn) is None and index.tracking_start() is None

    def record(operation: str, request_id: str, error: str | None = None) -> None:
        event = build_event(
            call(operation=operation, request_id=request_id, key_arns=[arn]),
            None,
            error,
            None,
            event_id=request_id,
        )
        appender.append([orjson.dumps(event)])

    record("Encrypt", "r1")
    assert index.lookup(arn).request_id == "r1"  # type: ignore[union-attr]
    record("Decrypt", "r2", error="InvalidCiphertextException")  # failed: does not count
    record("DescribeKey", "r3")  # not cryptographic
    assert index.lookup(arn).request_id == "r1"  # type: ignore[union-attr]
    record("GenerateDataKey", "r4")
    usage = index.lookup(arn)
    assert usage is not None and (usage.operation, usage.event_id) == ("GenerateDataKey", "r4")
    assert index.tracking_start() == 1_700_000_000


def test_verify_reports_a_foreign_line(tmp_path: Path) -> None:
    TrailAppender(tmp_path).append([b'{"n":1}'])
    with open(list_segments(tmp_path)[0], "ab") as handle:
        handle.write(b"hello\n")
    report = verify(tmp_path)
    assert not report.intact and "not a trail record" in (report.problem or "")
    assert os.stat(list_segments(tmp_path)[0]).st_mode & 0o777 == 0o600
