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
from typing import Final

import orjson

from strongroom.observability.disk import DiskSpace

__all__ = ["HealthChecks"]

log = logging.getLogger("strongroom.health")
_PROBE: Final = b"strongroom readiness probe"
Check = Callable[[], bool]


class HealthChecks:
    def __init__(
        self,
        storage: Callable[[], object],
        wrap: Callable[[bytes, bytes], bytes],
        unwrap: Callable[[bytes, bytes], bytes],
        audit_failing: Callable[[], bool] | None,
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
        if audit_failing is not None and audit_directory is not None:
            directory = audit_directory
            self._checks["audit"] = lambda: not audit_failing() and os.access(directory, os.W_OK)
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
