"""Alias rules (digest 7.5): the ``alias/`` prefix, the reserved ``alias/aws/`` namespace."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.errors import NotAuthorizedException, ValidationException

__all__ = ["ALIAS_PREFIX", "Alias", "validate_alias_name", "validate_new_alias_name"]

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


def validate_new_alias_name(name: str) -> None:
    """Check the name CreateAlias is about to give: :func:`validate_alias_name`, then no ``:``.

    The model's pattern (``^[a-zA-Z0-9:/_-]+$``) lets ``:`` through, because an alias *ARN* has colons, but
    the name itself may hold only letters, digits, ``/``, ``_`` and ``-`` (API reference, CreateAlias
    ``AliasName``). AWS answers ``ValidationException: <name> contains invalid characters for an alias``
    (a real answer quoted in hashicorp/terraform-provider-aws#12891, for ``alias/Service:Test``). Only
    CreateAlias checks it here: that is the only operation the answer was seen for, and a name with ``:``
    can never exist, so UpdateAlias and DeleteAlias truthfully answer NotFoundException for it."""
    validate_alias_name(name)
    if ":" in name:
        raise ValidationException(f"{name} contains invalid characters for an alias")
