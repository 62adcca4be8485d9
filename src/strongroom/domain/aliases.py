"""Alias rules (digest 7.5): the ``alias/`` prefix, the reserved ``alias/aws/`` namespace."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.errors import NotAuthorizedException, ValidationException

__all__ = ["ALIAS_PREFIX", "Alias", "validate_alias_name"]

ALIAS_PREFIX = "alias/"
_RESERVED_PREFIX = "alias/aws/"


@dataclass(frozen=True, slots=True)
class Alias:
    account_id: str
    region: str
    name: str  # with the "alias/" prefix
    key_id: str
    creation_date: float
    last_updated_date: float


def validate_alias_name(name: str) -> None:
    """Check a name given to CreateAlias/UpdateAlias/DeleteAlias (the model checks length and pattern)."""
    if not name.startswith(ALIAS_PREFIX):
        raise ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name == ALIAS_PREFIX:
        raise ValidationException('Alias name must not be empty after the prefix "alias/".')
    if name.startswith(_RESERVED_PREFIX):
        raise NotAuthorizedException(
            f"Alias names beginning with {_RESERVED_PREFIX} are reserved for AWS managed keys."
        )
