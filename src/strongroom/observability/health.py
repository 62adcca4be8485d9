"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: storage, root of trust, audit sink,
and a data volume that is neither full nor read-only).

Both are outside the KMS protocol: no SigV4, no audit record, and nothing sensitive in the answer (check
names and ``ok`` / ``failing``, never paths or error texts; those go to the log).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

import orjson

from strongroom.observability.disk import DiskSpace

__all__ = ["HealthChecks"]

log = logging.getLogger("strongroom.health")
_PROBE: Final = b"strongroom readiness probe"
Check = Callable[[], bool]
#: For how long a failed audit write keeps ``audit: failing`` when nothing has been written since.
AUDIT_FAILURE_WINDOW: Final = 10.0


class AuditState(Protocol):
    @property
    def failing(self) -> bool: ...

    def failed_within(self, seconds: float) -> bool: ...


class HealthChecks:
    def __init__(
        self,
        storage: Callable[[], object],
        wrap: Callable[[bytes, bytes], bytes],
        unwrap: Callable[[bytes, bytes], bytes],
        audit: AuditState | None,
        audit_directory: Path | None,
        disk: DiskSpace | None = None,
    ) -> None:
        """``disk`` watches the data volume; without it, the audit directory's file system is watched
        (when there is an audit trail), since that is where every request writes."""

        def storage_answers() -> bool:
            storage()  # raises if the database cannot be read
            return True

        self._checks: dict[str, Check] = {
            "storage": storage_answers,
            "root_of_trust": lambda: unwrap(wrap(_PROBE, b"readyz"), b"readyz") == _PROBE,
        }
        if audit is not None and audit_directory is not None:
            state, directory = audit, audit_directory
            self._checks["audit"] = lambda: _audit_ready(state, directory)
        if disk is None and audit_directory is not None:
            disk = DiskSpace([audit_directory])
        self.disk = disk
        if disk is not None:
            watched = disk
            self._checks["disk"] = lambda: not watched.check_now()

    def live(self) -> tuple[int, bytes]:
        return 200, b'{"status":"ok"}'

    def ready(self) -> tuple[int, bytes]:
        results = {}
        for name, check in self._checks.items():
            try:
                passed = bool(check())
            except Exception:
                log.exception("readiness check %s failed", name)
                passed = False
            results[name] = "ok" if passed else "failing"
        ready = all(value == "ok" for value in results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return (200 if ready else 503), orjson.dumps(body)


def _audit_ready(audit: AuditState, directory: Path) -> bool:
    """Not ready while this worker's last audit write failed less than :data:`AUDIT_FAILURE_WINDOW`
    ago. After that, a failure not yet followed by a write is re-checked with a probe: the flag clears
    only on the worker's next write, which a load balancer that stopped sending traffic on 503 would
    never let happen."""
    if not audit.failing:
        return True
    return not audit.failed_within(AUDIT_FAILURE_WINDOW) and _takes_writes(directory)


def _takes_writes(directory: Path) -> bool:
    """Whether a small file can be written and synced in ``directory`` now."""
    probe = directory / f".readyz-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError:
        return False
    return True
