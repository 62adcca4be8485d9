"""Grants: a key's delegated permissions, and their encryption-context constraints (digest section 8)."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "TOKEN_LENGTH",
    "ChildGrant",
    "Grant",
    "GrantConstraints",
    "grant_id_from_token",
    "new_grant_token",
]


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
# A token is opaque to clients: unpadded base64url of
#
#     version 0x02 | grant id (32 bytes) | nonce (16 random bytes) | HMAC-SHA256 tag (32 bytes)
#
# where the tag is HMAC-SHA256(token key, TOKEN_LABEL | version | grant id | nonce) under the server's
# grant-token key (see strongroom.service.grant_tokens). Every CreateGrant call returns a new nonce, so a
# new token for the same grant, and any of them names it; only the server can make one, so a token is proof
# that the server issued it for that grant. Version 0x01 tokens (no tag) are no longer accepted.
_TOKEN_VERSION: Final = b"\x02"
_TOKEN_LABEL: Final = b"strongroom grant token\x00"
_GRANT_ID_BYTES: Final = 32
_NONCE_BYTES: Final = 16
_TAG_BYTES: Final = 32
_TOKEN_BYTES: Final = 1 + _GRANT_ID_BYTES + _NONCE_BYTES + _TAG_BYTES
#: Unpadded base64 length of a token (81 bytes -> 108 characters, no padding bits).
TOKEN_LENGTH: Final = (_TOKEN_BYTES * 4 + 2) // 3
_TAG_START: Final = _TOKEN_BYTES - _TAG_BYTES


def _tag(key: bytes, signed: bytes) -> bytes:
    return hmac.digest(key, _TOKEN_LABEL + signed, "sha256")


def new_grant_token(key: bytes, grant_id: str, nonce: bytes) -> str:
    """A token for ``grant_id`` (64 hex characters), authenticated under ``key``."""
    raw = _TOKEN_VERSION + bytes.fromhex(grant_id) + nonce
    if len(raw) != _TAG_START:
        raise ValueError("a grant token needs a 32-byte grant id and a 16-byte nonce")
    return base64.urlsafe_b64encode(raw + _tag(key, raw)).decode("ascii").rstrip("=")


def grant_id_from_token(key: bytes, token: str) -> str | None:
    """The grant id a token names, or None unless the token is exactly one this server made under ``key``.

    Only the canonical spelling is accepted (the exact length and alphabet, no padding), so one token has
    one string; the tag is compared in constant time."""
    if len(token) != TOKEN_LENGTH or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token)  # length is a multiple of 4: no padding to add
    except (ValueError, binascii.Error):
        return None
    # urlsafe_b64decode skips characters outside the alphabet: insist on the round trip.
    if len(raw) != _TOKEN_BYTES or base64.urlsafe_b64encode(raw).decode("ascii") != token:
        return None
    signed, tag = raw[:_TAG_START], raw[_TAG_START:]
    if not hmac.compare_digest(_tag(key, signed), tag) or signed[:1] != _TOKEN_VERSION:
        return None
    return signed[1 : 1 + _GRANT_ID_BYTES].hex()
