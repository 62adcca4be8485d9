"""/readyz's audit check: a recent failed write means not ready; an older one, not yet followed by a
write, is re-checked with a probe, so a worker that gets no traffic recovers."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from strongroom.audit.failures import FailureTracking
from strongroom.observability import health
from strongroom.observability.health import HealthChecks


class Sink(FailureTracking):
    pass


def audit_check(checks: HealthChecks) -> str:
    status, body = checks.ready()
    return str(orjson.loads(body)["checks"]["audit"])


def checks_for(sink: Sink, directory: Path) -> HealthChecks:
    return HealthChecks(
        storage=lambda: "ok",
        wrap=lambda b, a: b,
        unwrap=lambda b, a: b,
        audit=sink,
        audit_directory=directory,
    )


def test_a_recent_failure_is_not_ready_and_an_old_one_is_probed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = Sink()
    checks = checks_for(sink, tmp_path)
    assert audit_check(checks) == "ok"
    sink._mark(True)
    assert audit_check(checks) == "failing"
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + health.AUDIT_FAILURE_WINDOW + 1)
    assert audit_check(checks) == "ok"  # the probe write succeeded
    assert list(tmp_path.iterdir()) == []  # and left nothing behind
    monkeypatch.setattr(health, "_takes_writes", lambda directory: False)
    assert audit_check(checks) == "failing"
    sink._mark(False)
    assert audit_check(checks) == "ok"
