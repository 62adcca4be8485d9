"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases (digest 7.5)."""

from __future__ import annotations

from typing import Any

from strongroom.domain.aliases import Alias, validate_alias_name
from strongroom.domain.ids import alias_arn
from strongroom.domain.keys import KeySpec, KmsKey
from strongroom.errors import (
    AlreadyExistsException,
    InvalidMarkerException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from strongroom.operations.common import page, page_limit
from strongroom.operations.context import RequestContext, Services

__all__ = ["create_alias", "delete_alias", "list_aliases", "update_alias"]

MAX_ALIASES_PER_KEY = 50


def _target(ctx: RequestContext, svc: Services, identifier: str) -> KmsKey:
    key = svc.keys.resolve(ctx.principal, identifier, allow_alias=False)
    key.require_not_pending_deletion()
    return key


def _key_type(key: KmsKey) -> str:
    if key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
        return "symmetric"
    return "hmac" if key.key_spec.value.startswith("HMAC_") else "asymmetric"


def create_alias(ctx: RequestContext, svc: Services, params: dict[str, Any]) -> None:
    name = params["AliasName"]
    validate_alias_name(name)
    key = _target(ctx, svc, params["TargetKeyId"])
    if svc.keys.count_aliases(key) >= MAX_ALIASES_PER_KEY:
        raise LimitExceededException(f"Too many aliases for {key.arn}: the limit is {MAX_ALIASES_PER_KEY}.")
    now = svc.clock.now()
    principal = ctx.principal
    if not svc.keys.insert_alias(Alias(principal.account_id, principal.region, name, key.key_id, now, now)):
        raise AlreadyExistsException(
            f"An alias with the name {alias_arn(principal.region, principal.account_id, name)} already exists"
        )


def update_alias(ctx: RequestContext, svc: Services, params: dict[str, Any]) -> None:
    name = params["AliasName"]
    validate_alias_name(name)
    alias = svc.keys.get_alias(ctx.principal, name)
    if alias is None:
        raise NotFoundException(
            f"Alias {alias_arn(ctx.principal.region, ctx.principal.account_id, name)} is not found."
        )
    new_key = _target(ctx, svc, params["TargetKeyId"])
    old_key = svc.keys.find(ctx.principal.region, alias.key_id)
    if old_key is not None and (_key_type(old_key), old_key.key_usage) != (
        _key_type(new_key),
        new_key.key_usage,
    ):
        raise ValidationException(
            f"{new_key.arn} is not the same type of KMS key (key spec and key usage) as the alias's current "
            f"target {old_key.arn}."
        )
    svc.keys.update_alias(
        Alias(
            alias.account_id, alias.region, alias.name, new_key.key_id, alias.creation_date, svc.clock.now()
        )
    )


def delete_alias(ctx: RequestContext, svc: Services, params: dict[str, Any]) -> None:
    name = params["AliasName"]
    validate_alias_name(name)
    if not svc.keys.delete_alias(ctx.principal, name):
        raise NotFoundException(
            f"Alias {alias_arn(ctx.principal.region, ctx.principal.account_id, name)} is not found."
        )


def list_aliases(ctx: RequestContext, svc: Services, params: dict[str, Any]) -> dict[str, Any]:
    limit = page_limit(params, default=50, maximum=100)
    key_id = None
    if params.get("KeyId") is not None:
        key_id = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False).key_id
    marker = params.get("Marker")
    if marker is not None and not marker.startswith("alias/"):
        raise InvalidMarkerException("Invalid marker")
    aliases = svc.keys.list_aliases(ctx.principal, key_id, marker, limit + 1)
    entries = [
        {
            "AliasName": a.name,
            "AliasArn": alias_arn(a.region, a.account_id, a.name),
            "TargetKeyId": a.key_id,
            "CreationDate": a.creation_date,
            "LastUpdatedDate": a.last_updated_date,
        }
        for a in aliases[:limit]
    ]
    return page(entries, limit, "Aliases", aliases[limit - 1].name if len(aliases) > limit else None)
