"""Grants: a key's delegated permissions, and their encryption-context constraints (digest section 8)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Grant", "GrantConstraints"]


@dataclass(frozen=True, slots=True)
class GrantConstraints:
    """``EncryptionContextEquals``: the request's context must be exactly this. ``...Subset``: it must
    contain every pair (more pairs allowed). Order never matters; case always does."""

    equals: tuple[tuple[str, str], ...] | None = None
    subset: tuple[tuple[str, str], ...] | None = None

    def allows(self, context: Mapping[str, str] | None) -> bool:
        given = context or {}
        if self.equals is not None and dict(self.equals) != dict(given):
            return False
        return self.subset is None or all(given.get(k) == v for k, v in self.subset)

    def to_wire(self) -> dict[str, dict[str, str]]:
        wire: dict[str, dict[str, str]] = {}
        if self.equals is not None:
            wire["EncryptionContextEquals"] = dict(self.equals)
        if self.subset is not None:
            wire["EncryptionContextSubset"] = dict(self.subset)
        return wire


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    region: str
    key_id: str
    name: str | None
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]
    constraints: GrantConstraints | None
    issuing_account: str
    creation_date: float
