"""The KMS key: its metadata, its state machine and the rules for which operations a state allows.

Pure domain code: no I/O. Time comes in as arguments. The messages are AWS KMS's (digest sections 5-7).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from strongroom.domain.ids import key_arn
from strongroom.errors import (
    DisabledException,
    InvalidKeyUsageException,
    KMSInvalidStateException,
    UnsupportedOperationException,
    ValidationException,
)

__all__ = [
    "DAY",
    "KeyMaterial",
    "KeySpec",
    "KeyState",
    "KeyUsage",
    "KmsKey",
    "Origin",
    "implemented",
    "not_implemented",
    "validate_pending_window",
]

DAY = 86_400.0


class KeyState(StrEnum):
    CREATING = "Creating"
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    UNAVAILABLE = "Unavailable"
    UPDATING = "Updating"


class KeySpec(StrEnum):
    SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    RSA_4096 = "RSA_4096"
    ECC_NIST_P256 = "ECC_NIST_P256"
    ECC_NIST_P384 = "ECC_NIST_P384"
    ECC_NIST_P521 = "ECC_NIST_P521"
    ECC_NIST_EDWARDS25519 = "ECC_NIST_EDWARDS25519"
    ECC_SECG_P256K1 = "ECC_SECG_P256K1"
    HMAC_224 = "HMAC_224"
    HMAC_256 = "HMAC_256"
    HMAC_384 = "HMAC_384"
    HMAC_512 = "HMAC_512"
    SM2 = "SM2"
    ML_DSA_44 = "ML_DSA_44"
    ML_DSA_65 = "ML_DSA_65"
    ML_DSA_87 = "ML_DSA_87"
    ML_KEM_512 = "ML_KEM_512"
    ML_KEM_768 = "ML_KEM_768"
    ML_KEM_1024 = "ML_KEM_1024"


class KeyUsage(StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
    SIGN_VERIFY = "SIGN_VERIFY"
    GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
    KEY_AGREEMENT = "KEY_AGREEMENT"
    ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"


class Origin(StrEnum):
    AWS_KMS = "AWS_KMS"
    EXTERNAL = "EXTERNAL"
    AWS_CLOUDHSM = "AWS_CLOUDHSM"
    EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"


_Member = TypeVar("_Member", bound=StrEnum)


def not_implemented(member: str, value: str) -> UnsupportedOperationException:
    """The answer to a value the AWS model allows but Strongroom does not implement (yet)."""
    return UnsupportedOperationException(f"{member} {value} is not supported by Strongroom yet.")


def implemented(kind: type[_Member], value: str, member: str) -> _Member:
    """The ``kind`` member whose value is ``value``, the request's ``member``.

    Validation admits every value of the shipped AWS model's enums, and AWS adds values (key specs,
    key usages) before Strongroom implements them: such a value is
    :func:`not_implemented`, never a ``ValueError`` (an HTTP 500).
    """
    try:
        return kind(value)
    except ValueError:
        raise not_implemented(member, value) from None


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """One version of a key's secret material, unwrapped. Never logged, never persisted as is."""

    version: int
    material_id: str  # 64 lower-case hex characters, as AWS's KeyMaterialId
    secret: bytes = field(repr=False)


def validate_pending_window(days: int | None) -> int:
    """ScheduleKeyDeletion accepts 7..30 days (default 30), narrower than the model's 1..365."""
    if days is None:
        return 30
    if not 7 <= days <= 30:
        raise ValidationException("PendingWindowInDays must be between 7 and 30")
    return days


@dataclass(slots=True)
class KmsKey:
    """A KMS key's metadata. Mutations return a changed copy; the repository persists it."""

    key_id: str
    account_id: str
    region: str
    creation_date: float
    description: str = ""
    key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
    origin: Origin = Origin.AWS_KMS
    state: KeyState = KeyState.ENABLED
    deletion_date: float | None = None
    multi_region: bool = False
    current_material: int | None = None  # version number of the material new ciphertexts use
    current_material_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    # Automatic rotation (strongroom.domain.rotation): the setting survives DisableKey and deletion
    # windows; only DisableKeyRotation clears it.
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation: float | None = None  # when the scheduler rotates it next (while enabled)
    on_demand_rotations: int = 0  # RotateKeyOnDemand calls so far (a lifetime quota)
    arn: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.arn = key_arn(self.region, self.account_id, self.key_id)

    @property
    def enabled(self) -> bool:
        return self.state is KeyState.ENABLED

    def changed(self, **changes: object) -> KmsKey:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # -- checks, in AWS's order: usage, then state -------------------------------------------------
    def require_usage(self, usage: KeyUsage, operation: str) -> None:
        if self.key_usage is not usage:
            raise InvalidKeyUsageException(
                f"{self.arn} key usage is {self.key_usage} which is not valid for {operation}."
            )

    def require_usable(self) -> None:
        """The state rule for cryptographic operations (digest 5.1)."""
        state = self.state
        if state is KeyState.ENABLED or state is KeyState.UPDATING:
            return
        if state is KeyState.DISABLED:
            raise DisabledException(f"{self.arn} is disabled.")
        raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(state)}.")

    def require_manageable(self) -> None:
        """The state rule for changing a key's rotation: Enabled (or Updating) only, with AWS's
        DisabledException for a disabled key (key-state table, footnote 1)."""
        state = self.state
        if state is KeyState.ENABLED or state is KeyState.UPDATING:
            return
        if state is KeyState.DISABLED:
            raise DisabledException(f"{self.arn} is disabled.")
        raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(state)}.")

    def require_not_pending_import(self) -> None:
        if self.state is KeyState.PENDING_IMPORT:
            raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(self.state)}.")

    def require_not_pending_deletion(self) -> None:
        if self.state in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION):
            raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(self.state)}.")

    def is_expired(self, now: float) -> bool:
        """True once a key pending deletion has reached its deletion date and must be purged."""
        return (
            self.state is KeyState.PENDING_DELETION
            and self.deletion_date is not None
            and now >= self.deletion_date
        )

    # -- transitions ---------------------------------------------------------------------------------
    def enable(self) -> KmsKey:
        self._require_toggleable()
        return self.changed(state=KeyState.ENABLED)

    def disable(self) -> KmsKey:
        self._require_toggleable()
        return self.changed(state=KeyState.DISABLED)

    def schedule_deletion(self, now: float, window_days: int) -> KmsKey:
        self.require_not_pending_deletion()
        if self.state in (KeyState.CREATING, KeyState.UPDATING):
            raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(self.state)}.")
        return self.changed(state=KeyState.PENDING_DELETION, deletion_date=now + window_days * DAY)

    def cancel_deletion(self) -> KmsKey:
        if self.state is not KeyState.PENDING_DELETION:
            raise KMSInvalidStateException(f"{self.arn} is not pending deletion.")
        # AWS leaves the key Disabled whatever its state was before (digest 7.2).
        return self.changed(state=KeyState.DISABLED, deletion_date=None)

    def _require_toggleable(self) -> None:
        self.require_not_pending_deletion()
        if self.state in (KeyState.PENDING_IMPORT, KeyState.CREATING, KeyState.UPDATING):
            raise KMSInvalidStateException(f"{self.arn} is {_state_phrase(self.state)}.")


_PHRASES = {
    KeyState.PENDING_DELETION: "pending deletion",
    KeyState.PENDING_REPLICA_DELETION: "pending replica deletion",
    KeyState.PENDING_IMPORT: "pending import",
    KeyState.UNAVAILABLE: "unavailable",
    KeyState.CREATING: "creating",
    KeyState.UPDATING: "updating",
    KeyState.DISABLED: "disabled",
    KeyState.ENABLED: "enabled",
}


def _state_phrase(state: KeyState) -> str:
    return _PHRASES[state]
