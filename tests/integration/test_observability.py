"""/healthz, /readyz and /metrics over HTTP (no SigV4, no audit record), metrics summed over two workers,
and structured JSON logs with the request id on every line."""

from __future__ import annotations

import base64
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import ACCOUNT_ID, RunningServer, aws_error, start_server


def get(server: RunningServer, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(server.endpoint + path, timeout=10) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 if it is absent."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = start_server(tmp_path_factory.mktemp("obs") / "data", "--workers", "2", "--log-level", "info")
    yield server
    server.stop()


def audited_lines(server: RunningServer) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (server.data_dir / "audit").glob("trail-*.jsonl"))


def test_health_endpoints(two_workers: RunningServer) -> None:
    before = audited_lines(two_workers)
    assert get(two_workers, "/healthz") == (200, "application/json", b'{"status":"ok"}')
    status, _, body = get(two_workers, "/readyz")
    assert status == 200
    checks = {"storage": "ok", "root_of_trust": "ok", "audit": "ok", "disk": "ok"}
    assert orjson.loads(body) == {"status": "ready", "checks": checks}
    assert audited_lines(two_workers) == before  # outside the KMS protocol: not audited


def test_metrics_are_summed_over_the_workers(two_workers: RunningServer) -> None:
    kms: Any = two_workers.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    enabled = kms.create_key()["KeyMetadata"]["KeyId"]
    served_by = set()
    for _ in range(20):  # new connections, which the kernel spreads over the two workers
        client: Any = two_workers.client()
        for _ in range(2):
            served_by.add(
                client.generate_data_key(KeyId=enabled, KeySpec="AES_256")["ResponseMetadata"]["RequestId"][
                    :8
                ]
            )
    assert len(served_by) == 2  # both workers answered (request id prefixes differ per worker)
    for _ in range(3):
        aws_error(kms.describe_key, KeyId="alias/none")
    scrapes = [get(two_workers, "/metrics") for _ in range(6)]  # answered by either worker
    for status, content_type, body in scrapes:
        text = body.decode()
        assert status == 200 and content_type.startswith("text/plain")
        assert sample(text, "strongroom_requests_total", operation="GenerateDataKey", code="OK") == 40
        assert (
            sample(text, "strongroom_requests_total", operation="DescribeKey", code="NotFoundException") == 3
        )
        assert sample(text, "strongroom_request_duration_seconds_count", operation="GenerateDataKey") == 40
        assert sample(text, "strongroom_keys", state="Enabled") >= 1
        assert sample(text, "strongroom_keys", state="Disabled") >= 1
        assert sample(text, "strongroom_audit_batch_records_sum") >= 45
        assert sample(text, "strongroom_audit_flush_seconds_count") >= 1
    # Cache counts reach the shared counters once a second per worker, so poll for them.
    deadline = time.monotonic() + 30
    while (
        sample(get(two_workers, "/metrics")[2].decode(), "strongroom_cache_lookups_total", cache="key") < 40
    ):
        assert time.monotonic() < deadline, "cache lookups never published"
        time.sleep(0.2)


def test_logs_are_json_lines_with_the_request_id(two_workers: RunningServer) -> None:
    kms: Any = two_workers.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    answer = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    request_id = answer["ResponseMetadata"]["RequestId"]
    lines = [line for line in two_workers.output().splitlines() if line.startswith("{")]
    entries = [orjson.loads(line) for line in lines]
    answered = [e for e in entries if e.get("message") == "answered"]
    assert any(e["request_id"] == request_id and e["operation"] == "GenerateDataKey" for e in answered)
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in answered)
    log_text = two_workers.output()
    for secret in (answer["Plaintext"], answer["CiphertextBlob"]):
        assert base64.b64encode(secret).decode() not in log_text and secret.hex() not in log_text


def test_quiet_by_default(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", "--account-id", ACCOUNT_ID)
    try:
        kms: Any = server.client()
        kms.generate_data_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], KeySpec="AES_256")
    finally:
        server.stop()
    assert not [line for line in server.output().splitlines() if line.startswith("{")]
