"""Automatic key rotation: every worker looks for due keys at start and periodically, and each due
rotation is made exactly once.

Who rotates is decided by the store (:meth:`strongroom.storage.base.MetadataStore.rotate_key`): a
conditional UPDATE that only matches while the key is still due on the date this worker read, so of
several workers (or nodes on one database) that find the same key due, one rotates and the others write
nothing. A rotation is a change like a request's: it joins one transaction with its ``RotateKey``
record (CloudTrail's ``AwsServiceEvent``), and commits only once that record is durable; if the record
cannot be written the rotation is rolled back, and retried on the next pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Final

from strongroom.audit.events import ServiceEvent
from strongroom.audit.recorder import AuditRecorder
from strongroom.domain.keys import KmsKey
from strongroom.domain.rotation import RotationType
from strongroom.service.keyring import KeyRepository
from strongroom.storage.transactions import UnitOfWork

__all__ = ["RotationScheduler", "rotate_key_event"]

log = logging.getLogger("strongroom")

#: How long a rotation waits for its record before it is rolled back (as a request's change does).
_RECORD_TIMEOUT_SECONDS: Final = 10.0


def rotate_key_event(before: KmsKey, after: KmsKey, when: float) -> ServiceEvent:
    """The ``RotateKey`` record of an automatic rotation, as CloudTrail writes it (KMS Developer Guide,
    "RotateKey"): key ids and material ids only, never material."""
    return ServiceEvent(
        name="RotateKey",
        when=when,
        region=after.region,
        account_id=after.account_id,
        key_arn=after.arn,
        details={
            "rotationType": RotationType.AUTOMATIC.value,
            "keyId": after.key_id,
            "keyOrigin": after.origin.value,
            "previousKeyMaterialId": before.current_material_id,
            "currentKeyMaterialId": after.current_material_id,
        },
    )


class RotationScheduler:
    def __init__(
        self,
        keys: KeyRepository,
        transactions: Callable[[], AbstractContextManager[UnitOfWork]] | None,
        audit: AuditRecorder | None,
        on_rollback: Callable[[], None],
    ) -> None:
        self._keys = keys
        self._transactions = transactions
        self._audit = audit
        self._on_rollback = on_rollback

    def run(self) -> int:
        """Rotate every key whose date has passed (that no other worker rotated first); how many."""
        rotated = 0
        for key in self._keys.due_for_rotation():
            try:
                rotated += self._rotate(key)
            except Exception:
                self._on_rollback()
                log.exception("automatic rotation of %s failed; it is retried on the next pass", key.arn)
        return rotated

    def _rotate(self, key: KmsKey) -> bool:
        due = key.next_rotation
        if self._audit is None or self._transactions is None:  # --no-audit: nothing to wait for
            return self._keys.rotate(key, RotationType.AUTOMATIC, due) is not None
        with self._transactions() as unit:
            after = self._keys.rotate(key, RotationType.AUTOMATIC, due)
            if after is None:  # another worker rotated it first
                unit.rollback()
                return False
            pending = self._audit.record_service_event(rotate_key_event(key, after, time.time()))
            failure = self._audit.wait_blocking(pending, _RECORD_TIMEOUT_SECONDS)
            if failure is not None:
                unit.rollback()
                self._on_rollback()
                log.error("automatic rotation of %s not recorded, rolled back: %s", key.arn, failure)
                return False
            unit.commit()
        log.info("rotated %s (automatic)", key.arn)
        return True
