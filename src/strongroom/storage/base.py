"""The metadata store: one interface, one module per backend (SQLite now, PostgreSQL later).

Every mutation also appends a row to a change log in the same transaction. Workers and nodes read the
log to invalidate their in-memory caches (see :mod:`strongroom.service.changes`), so a DisableKey on one
worker is seen by the next request on every other worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from strongroom.domain.aliases import Alias
from strongroom.domain.grants import Grant
from strongroom.domain.identities import IamPrincipal, PrincipalKind
from strongroom.domain.keys import KmsKey
from strongroom.domain.rotation import Rotation

__all__ = ["AccessKeyRecord", "Change", "ChangeKind", "MetadataStore", "WrappedMaterial"]


@dataclass(frozen=True, slots=True)
class WrappedMaterial:
    version: int
    material_id: str
    wrapped: bytes = field(repr=False)
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    access_key_id: str
    wrapped_secret: bytes = field(repr=False)
    account_id: str = ""
    principal_arn: str = ""
    created: float = 0.0


class ChangeKind(StrEnum):
    KEY = "key"
    ALIAS = "alias"
    ACCESS_KEY = "access_key"
    PRINCIPAL = "principal"  # a user or role, or its identity policies, changed (name: principal ARN)
    GRANT = "grant"  # a key's grants changed (name: key id)


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    kind: ChangeKind
    region: str
    name: str  # key id, alias name, or access key id


class MetadataStore(Protocol):
    # -- keys ----------------------------------------------------------------------------------------
    def insert_key(self, key: KmsKey, material: WrappedMaterial | None, policy: str | None = None) -> None:
        """``policy`` None means the default key policy."""
        ...

    def update_key(self, key: KmsKey) -> None: ...
    def get_key(self, region: str, key_id: str) -> KmsKey | None: ...
    def list_keys(self, account_id: str, region: str, after: str | None, limit: int) -> list[KmsKey]: ...
    def delete_key(self, region: str, key_id: str) -> bool:
        """Delete a key with its material, tags and aliases. False if it was already gone."""
        ...

    def expired_keys(self, now: float) -> list[tuple[str, str]]:
        """(region, key id) of keys pending deletion whose deletion date has passed."""
        ...

    def get_materials(self, region: str, key_id: str) -> list[WrappedMaterial]: ...

    # -- rotation ------------------------------------------------------------------------------------
    def rotate_key(
        self, before: KmsKey, after: KmsKey, material: WrappedMaterial, rotation: Rotation, due: float | None
    ) -> bool:
        """Add ``material`` and make it current, with its rotation record, only if the key is still as
        ``before`` (and, with ``due``, still due on that date): the one place that decides which of
        several workers or nodes performs a rotation. False, with nothing written, for the others."""
        ...

    def list_rotations(self, region: str, key_id: str) -> list[Rotation]: ...
    def due_rotations(self, now: float) -> list[tuple[str, str]]: ...

    # -- aliases -------------------------------------------------------------------------------------
    def insert_alias(self, alias: Alias) -> bool:
        """False if an alias of that name already exists in the account and region."""
        ...

    def update_alias(self, alias: Alias) -> None: ...
    def delete_alias(self, account_id: str, region: str, name: str) -> bool: ...
    def get_alias(self, account_id: str, region: str, name: str) -> Alias | None: ...
    def list_aliases(
        self, account_id: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]: ...
    def count_aliases(self, region: str, key_id: str) -> int: ...
    def count_keys_by_state(self) -> dict[str, int]: ...

    # -- credentials ---------------------------------------------------------------------------------
    def put_access_key(self, record: AccessKeyRecord) -> None: ...
    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    def list_access_keys(self, principal_arn: str) -> list[AccessKeyRecord]: ...
    def delete_access_key(self, access_key_id: str) -> bool: ...

    # -- identities and identity policies -------------------------------------------------------------
    def insert_principal(self, principal: IamPrincipal) -> bool:
        """False if a user or role of that name already exists in the account."""
        ...

    def delete_principal(self, account_id: str, kind: PrincipalKind, name: str) -> bool: ...
    def get_principal(self, account_id: str, kind: PrincipalKind, name: str) -> IamPrincipal | None: ...
    def get_principal_by_arn(self, arn: str) -> IamPrincipal | None: ...
    def list_principals(self, account_id: str, kind: PrincipalKind) -> list[IamPrincipal]: ...
    def put_identity_policy(self, principal: IamPrincipal, policy_name: str, document: str) -> None: ...
    def delete_identity_policy(self, principal: IamPrincipal, policy_name: str) -> bool: ...
    def list_identity_policies(self, principal: IamPrincipal) -> list[tuple[str, str]]:
        """(policy name, document) pairs, sorted by name."""
        ...

    # -- key policies and grants -----------------------------------------------------------------------
    def get_key_policy(self, region: str, key_id: str) -> str | None:
        """The stored document, or None for the default key policy."""
        ...

    def put_key_policy(self, region: str, key_id: str, document: str) -> None: ...
    def insert_grant(self, grant: Grant) -> None: ...
    def get_grant(self, grant_id: str) -> Grant | None: ...
    def find_grant_by_name(self, region: str, key_id: str, name: str) -> list[Grant]: ...
    def list_grants(self, region: str, key_id: str) -> list[Grant]: ...
    def list_retirable_grants(self, retiring_principal: str) -> list[Grant]: ...
    def delete_grant(self, grant_id: str) -> bool: ...

    # -- installation metadata -----------------------------------------------------------------------
    def get_meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...
    def add_meta(self, name: str, value: str) -> None:
        """Set ``name`` only if it has no value yet (the first of two racing processes wins)."""
        ...

    # -- change log ----------------------------------------------------------------------------------
    def changes_since(self, seq: int) -> tuple[list[Change], int]:
        """Changes after ``seq`` and the oldest seq still kept (a gap means: flush everything)."""
        ...

    def latest_change_seq(self) -> int: ...

    def close(self) -> None: ...
