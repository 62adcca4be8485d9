"""Grants: a key's delegated permissions, and their encryption-context constraints (digest section 8)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ChildGrant", "Grant", "GrantConstraints", "grant_id_from_token", "new_grant_token"]


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

    def at_least_as_strict_as(self, parent: GrantConstraints | None) -> bool:
        """Whether every context this constraint allows, ``parent`` allows too (the rule for grants
        created with CreateGrant permission from a grant). A child may add pairs to a Subset, or turn a
        Subset into an Equals with the same or more pairs; it may not drop pairs, or turn Equals into
        Subset."""
        if parent is None:
            return True
        if parent.equals is not None and (self.equals is None or dict(self.equals) != dict(parent.equals)):
            return False
        if parent.subset is not None:
            pairs = dict(self.equals if self.equals is not None else self.subset or ())
            if any(pairs.get(name) != value for name, value in parent.subset):
                return False
        return True

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

    def permits_child(self, child: ChildGrant) -> bool:
        """A grantee that has CreateGrant from this grant may create ``child`` only if the child allows a
        subset of this grant's operations, under constraints at least as strict as this grant's."""
        if not set(child.operations) <= set(self.operations):
            return False
        if child.constraints is None:
            return self.constraints is None
        return child.constraints.at_least_as_strict_as(self.constraints)


@dataclass(frozen=True, slots=True)
class ChildGrant:
    """What a CreateGrant request asks for, checked against the grant that lets its caller create it."""

    operations: tuple[str, ...]
    constraints: GrantConstraints | None


# -- grant tokens ----------------------------------------------------------------------------------------
# A token is opaque to clients: base64url of version 0x01, the 32-byte grant id and 16 random bytes, so
# every CreateGrant call returns a different token for the same grant, and any of them names it.
_TOKEN_VERSION = b"\x01"
_TOKEN_LENGTH = 1 + 32 + 16


def new_grant_token(grant_id: str, nonce: bytes) -> str:
    raw = _TOKEN_VERSION + bytes.fromhex(grant_id) + nonce
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def grant_id_from_token(token: str) -> str | None:
    """The grant id a token names, or None if the token is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(raw) != _TOKEN_LENGTH or raw[:1] != _TOKEN_VERSION:
        return None
    return raw[1:33].hex()
