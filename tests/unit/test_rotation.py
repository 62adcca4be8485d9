"""The rotation rules (domain/rotation.py), the scheduler's exactly-once claim on a real SQLite store,
and the RotateKey service event's shape."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from strongroom.audit.events import event_from_summary, summarize_service_event
from strongroom.clock import FixedClock, SystemRandom
from strongroom.domain.keys import DAY, KeySpec, KeyState, KeyUsage, KmsKey
from strongroom.domain.rotation import (
    ON_DEMAND_LIMIT,
    RotationType,
    disable_rotation,
    enable_rotation,
    is_due,
    next_after,
    require_on_demand_quota,
    require_rotatable,
    rotated,
    status_enabled,
)
from strongroom.errors import LimitExceededException, UnsupportedOperationException
from strongroom.keystore.file import FileRootOfTrust
from strongroom.service.keyring import KeyRepository
from strongroom.service.rotation_scheduler import RotationScheduler, rotate_key_event
from strongroom.storage.sqlite import SqliteStore

NOW = 1_700_000_000.0


def key(**changes: object) -> KmsKey:
    return KmsKey(key_id="k", account_id="111122223333", region="us-east-1", creation_date=0.0).changed(
        **changes
    )


def test_only_symmetric_encryption_keys_rotate() -> None:
    require_rotatable(key())
    with pytest.raises(UnsupportedOperationException) as info:
        require_rotatable(key(key_spec=KeySpec.HMAC_256, key_usage=KeyUsage.GENERATE_VERIFY_MAC))
    assert info.value.message is None


def test_enable_schedules_one_period_ahead_and_a_new_period_keeps_the_start() -> None:
    enabled = enable_rotation(key(), NOW, None)
    assert (enabled.rotation_period_days, enabled.next_rotation) == (365, NOW + 365 * DAY)
    changed = enable_rotation(enabled, NOW + 10 * DAY, 90)
    assert (changed.rotation_period_days, changed.next_rotation) == (90, NOW + 90 * DAY)
    off = disable_rotation(changed)
    assert (off.rotation_enabled, off.rotation_period_days, off.next_rotation) == (False, None, None)


def test_due_only_when_enabled_and_the_date_passed() -> None:
    enabled = enable_rotation(key(), NOW, 90)
    assert not is_due(enabled, NOW + 89 * DAY)
    assert is_due(enabled, NOW + 90 * DAY)
    assert not is_due(enabled.changed(state=KeyState.DISABLED), NOW + 100 * DAY)
    assert not is_due(disable_rotation(enabled), NOW + 100 * DAY)


def test_an_overdue_key_rotates_once_and_keeps_its_phase() -> None:
    enabled = enable_rotation(key(), NOW, 90)
    assert next_after(enabled, NOW + 100 * DAY) == NOW + 180 * DAY
    assert next_after(enabled, NOW + 300 * DAY) == NOW + 360 * DAY


def test_status_reads_false_while_pending_deletion() -> None:
    enabled = enable_rotation(key(), NOW, 90)
    assert status_enabled(enabled)
    assert not status_enabled(enabled.changed(state=KeyState.PENDING_DELETION))
    assert status_enabled(enabled.changed(state=KeyState.DISABLED))


def test_on_demand_rotations_count_and_leave_the_schedule() -> None:
    enabled = enable_rotation(key(current_material=1), NOW, 90)
    after = rotated(enabled, 2, "ab" * 32, RotationType.ON_DEMAND, NOW + DAY)
    assert (after.current_material, after.on_demand_rotations) == (2, 1)
    assert after.next_rotation == enabled.next_rotation
    automatic = rotated(enabled, 2, "cd" * 32, RotationType.AUTOMATIC, NOW + 90 * DAY)
    assert automatic.next_rotation == NOW + 180 * DAY and automatic.on_demand_rotations == 0
    with pytest.raises(LimitExceededException):
        require_on_demand_quota(key(on_demand_rotations=ON_DEMAND_LIMIT))


def test_two_workers_rotate_a_due_key_once(tmp_path: Path) -> None:
    """Two workers (each with its own connection) find the same key due; the store's conditional
    update lets exactly one of them rotate it."""
    clock = FixedClock(NOW)
    root = FileRootOfTrust(os.urandom(32))
    store = SqliteStore(tmp_path / "db.sqlite")
    first = KeyRepository(store, root, clock, SystemRandom())
    second = KeyRepository(SqliteStore(tmp_path / "db.sqlite"), root, clock, SystemRandom())
    created = key(current_material=1)
    material, wrapped = first.new_material(created, 1)
    created = enable_rotation(created.changed(current_material_id=material.material_id), NOW, 90)
    first.insert(created, wrapped)
    clock.advance(91 * DAY)
    both = [RotationScheduler(repo, None, None, lambda: None) for repo in (first, second)]
    due_for_both = [repo.due_for_rotation() for repo in (first, second)]  # both see it due
    assert all(len(due) == 1 for due in due_for_both)
    results = [repo.rotate(due[0], RotationType.AUTOMATIC, due[0].next_rotation) for repo, due in
               zip((first, second), due_for_both, strict=True)]  # fmt: skip
    assert sum(result is not None for result in results) == 1
    assert sum(scheduler.run() for scheduler in both) == 0  # nothing due any more
    rotations = store.list_rotations("us-east-1", "k")
    assert [(r.version, r.rotation_type) for r in rotations] == [(1, None), (2, RotationType.AUTOMATIC)]


def test_rotate_key_event_shape() -> None:
    before = key(current_material=1, current_material_id="aa" * 32)
    after = before.changed(current_material=2, current_material_id="bb" * 32)
    event = orjson.loads(event_from_summary(summarize_service_event(rotate_key_event(before, after, NOW))))
    assert event["eventName"] == "RotateKey" and event["eventType"] == "AwsServiceEvent"
    assert event["userIdentity"] == {"accountId": "111122223333", "invokedBy": "AWS Internal"}
    assert event["serviceEventDetails"]["previousKeyMaterialId"] == "aa" * 32
    assert event["serviceEventDetails"]["currentKeyMaterialId"] == "bb" * 32
    assert event["resources"][0]["ARN"] == before.arn and "requestID" not in event
