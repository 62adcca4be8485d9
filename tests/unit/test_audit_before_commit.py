"""A change takes effect only once its audit record is durable: its writes wait in one transaction,
committed after the record is on stable storage and rolled back when it cannot be written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from strongroom.audit.file_sink import Batch
from strongroom.bootstrap import build_application, initialize
from strongroom.config import DataDir, ServerConfig
from strongroom.protocol.app import KmsApplication
from tests.unit.test_asgi_adapter import call


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KmsApplication:
    monkeypatch.setenv("STRONGROOM_ADMIN_ACCESS_KEY_ID", "AKIAASGITEST")
    monkeypatch.setenv("STRONGROOM_ADMIN_SECRET_ACCESS_KEY", "asgi-secret")
    initialize(DataDir(tmp_path / "data"), None)
    return build_application(ServerConfig(data_dir=tmp_path / "data"))


def key_state(data_dir: Path, key_id: str) -> str:
    """The key's state as another process sees it: only committed rows."""
    with sqlite3.connect(data_dir / "strongroom.db") as other:
        row = other.execute("SELECT key_state FROM kms_keys WHERE key_id=?", (key_id,)).fetchone()
    return str(row[0])


def new_key(app: Any) -> str:
    status, _, body = call(app, "TrentService.CreateKey", b"{}")
    assert status == 200
    return str(orjson.loads(body)["KeyMetadata"]["KeyId"])


def describe(app: Any, key_id: str) -> str:
    status, _, body = call(app, "TrentService.DescribeKey", orjson.dumps({"KeyId": key_id}))
    assert status == 200
    return str(orjson.loads(body)["KeyMetadata"]["KeyState"])


def records(tmp_path: Path) -> list[dict[str, Any]]:
    from strongroom.audit.chain import parse_line

    lines = b"".join(p.read_bytes() for p in sorted((tmp_path / "data" / "audit").glob("trail-*.jsonl")))
    return [orjson.loads(parse_line(line).event) for line in lines.splitlines(keepends=True)]


def test_the_change_is_committed_only_after_its_record_is_durable(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = new_key(app)
    sink = app._audit.sink
    seen: list[str] = []
    durable = sink.wait_blocking

    def wait_blocking(batch: Batch, timeout: float) -> OSError | None:
        seen.append(key_state(tmp_path / "data", key_id))  # before the record is durable
        failure = durable(batch, timeout)
        seen.append(next(e["eventName"] for e in reversed(records(tmp_path))))  # the record is there
        seen.append(key_state(tmp_path / "data", key_id))  # and still not committed
        return failure

    monkeypatch.setattr(sink, "wait_blocking", wait_blocking)
    status, _, _ = call(app, "TrentService.DisableKey", orjson.dumps({"KeyId": key_id}))
    assert status == 200
    assert seen == ["Enabled", "DisableKey", "Enabled"]
    assert key_state(tmp_path / "data", key_id) == "Disabled"
    assert describe(app, key_id) == "Disabled"


def test_a_change_whose_record_cannot_be_written_has_no_effect(
    app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = new_key(app)
    assert describe(app, key_id) == "Enabled"  # the key is in this worker's cache now
    monkeypatch.setattr(app._audit.sink, "wait_blocking", lambda batch, timeout: OSError(28, "No space"))
    status, headers, body = call(app, "TrentService.DisableKey", orjson.dumps({"KeyId": key_id}))
    assert status == 500 and headers["x-amzn-requestid"]
    assert orjson.loads(body) == {
        "__type": "KMSInternalException",
        "message": "The request could not be recorded in the audit trail.",
    }
    assert key_state(tmp_path / "data", key_id) == "Enabled"
    monkeypatch.undo()
    assert describe(app, key_id) == "Enabled"  # the cache did not keep the rolled-back change
    status, _, body = call(app, "TrentService.CreateKey", b'{"Description": "never"}')
    assert status == 200
    with sqlite3.connect(tmp_path / "data" / "strongroom.db") as other:
        assert other.execute("SELECT COUNT(*) FROM kms_keys WHERE description='never'").fetchone()[0] == 1


def test_a_change_that_fails_leaves_nothing_behind(app: Any, tmp_path: Path) -> None:
    key_id = new_key(app)
    for _ in range(50):
        status, _, _ = call(
            app, "TrentService.CreateAlias", orjson.dumps({"AliasName": "alias/x", "TargetKeyId": key_id})
        )
        if status != 200:
            break
    status, _, body = call(
        app, "TrentService.CreateAlias", orjson.dumps({"AliasName": "alias/x", "TargetKeyId": key_id})
    )
    assert status == 400 and orjson.loads(body)["__type"] == "AlreadyExistsException"
    assert [e.get("errorCode") for e in records(tmp_path) if e["eventName"] == "CreateAlias"] == [
        None,
        "AlreadyExistsException",
        "AlreadyExistsException",
    ]


def test_error_bodies_are_json_whatever_the_input(app: Any) -> None:
    key_id = new_key(app)
    policy = '{"\\udfff": 1}'  # a lone surrogate once the policy's JSON is parsed
    status, headers, body = call(
        app, "TrentService.PutKeyPolicy", orjson.dumps({"KeyId": key_id, "Policy": policy})
    )
    assert status == 400 and headers["x-amzn-requestid"]
    assert orjson.loads(body)["__type"] == "MalformedPolicyDocumentException"
