"""Rotation of a KMS key's material: which keys may rotate, the automatic schedule, the history.

Pure domain code: no I/O, time comes in as arguments. A rotation adds a key material version and makes
it current for encryption; every earlier version keeps decrypting what it encrypted (the ciphertext
header names its version). The rules and messages are AWS KMS's (the model's documentation of
EnableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand and ListKeyRotations):

- only symmetric encryption keys of origin ``AWS_KMS`` rotate; asymmetric and HMAC keys are refused with
  ``UnsupportedOperationException`` without a message, as AWS answers;
- the automatic period is 90..2560 days (default 365); the first automatic rotation comes one period
  after rotation is enabled, then one period after each;
- on-demand rotations leave the automatic schedule alone and are capped at 25 per key, for its life;
- a disabled key keeps its setting but does not rotate; while it is pending deletion its status reads
  false (and it does not rotate); cancelling the deletion restores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from strongroom.domain.keys import DAY, KeySpec, KeyState, KmsKey, Origin
from strongroom.errors import LimitExceededException, UnsupportedOperationException

__all__ = [
    "DEFAULT_PERIOD_DAYS",
    "ON_DEMAND_LIMIT",
    "Rotation",
    "RotationType",
    "disable_rotation",
    "enable_rotation",
    "is_due",
    "next_after",
    "require_on_demand_quota",
    "require_rotatable",
    "rotated",
    "status_enabled",
]

DEFAULT_PERIOD_DAYS: Final = 365
#: RotateKeyOnDemand's lifetime quota per key (the model's documentation; not adjustable).
ON_DEMAND_LIMIT: Final = 25


class RotationType(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


@dataclass(frozen=True, slots=True)
class Rotation:
    """One key material of a key, as ListKeyRotations lists it. The first material has no rotation
    date or type."""

    version: int
    material_id: str
    date: float | None = None
    rotation_type: RotationType | None = None


def require_rotatable(key: KmsKey) -> None:
    """Automatic and on-demand rotation are for symmetric encryption keys with AWS_KMS origin only."""
    if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
        raise UnsupportedOperationException()  # AWS answers this one without a message
    if key.origin is not Origin.AWS_KMS:
        raise UnsupportedOperationException(
            f"{key.arn} origin is {key.origin} which is not valid for this operation."
        )


def require_on_demand_quota(key: KmsKey) -> None:
    if key.on_demand_rotations >= ON_DEMAND_LIMIT:
        raise LimitExceededException(
            "The on-demand rotations limit has been reached for the given keyId. "
            f"No more on-demand rotations can be performed for this key: {key.arn}"
        )


def status_enabled(key: KmsKey) -> bool:
    """GetKeyRotationStatus's KeyRotationEnabled: false while the key is pending deletion."""
    return key.rotation_enabled and key.state is not KeyState.PENDING_DELETION


def enable_rotation(key: KmsKey, now: float, period_days: int | None) -> KmsKey:
    """Enable automatic rotation, or change its period. Enabling starts the schedule now; a new period
    for a key that already rotates keeps the schedule's start (its last automatic rotation or the
    enabling), so the next date moves by the difference."""
    period = period_days if period_days is not None else DEFAULT_PERIOD_DAYS
    if key.rotation_enabled and key.next_rotation is not None and key.rotation_period_days is not None:
        start = key.next_rotation - key.rotation_period_days * DAY
    else:
        start = now
    next_date = round(start + period * DAY, 3)
    return key.changed(rotation_enabled=True, rotation_period_days=period, next_rotation=next_date)


def disable_rotation(key: KmsKey) -> KmsKey:
    return key.changed(rotation_enabled=False, rotation_period_days=None, next_rotation=None)


def is_due(key: KmsKey, now: float) -> bool:
    """Whether the scheduler rotates the key now: enabled rotation whose date has passed, on an
    Enabled key (a disabled one catches up once it is enabled again)."""
    return (
        key.rotation_enabled
        and key.state is KeyState.ENABLED
        and key.next_rotation is not None
        and key.next_rotation <= now
    )


def next_after(key: KmsKey, now: float) -> float | None:
    """The next automatic date once a due key has rotated: the schedule keeps its phase, and a key
    overdue by several periods rotates once, not once per missed period."""
    if key.next_rotation is None or key.rotation_period_days is None:
        return key.next_rotation
    period = key.rotation_period_days * DAY
    missed = max(0, int((now - key.next_rotation) // period))
    return round(key.next_rotation + (missed + 1) * period, 3)


def rotated(key: KmsKey, version: int, material_id: str, rotation_type: RotationType, now: float) -> KmsKey:
    """The key once material ``version`` is current: an automatic rotation moves the schedule, an
    on-demand one counts against the quota and leaves the schedule alone."""
    changes: dict[str, object] = {"current_material": version, "current_material_id": material_id}
    if rotation_type is RotationType.AUTOMATIC:
        changes["next_rotation"] = next_after(key, now)
    else:
        changes["on_demand_rotations"] = key.on_demand_rotations + 1
    return key.changed(**changes)
