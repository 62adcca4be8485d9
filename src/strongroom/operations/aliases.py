"""Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases (digest 7.5)."""

from __future__ import annotations

from typing import Any

from strongroom.domain.aliases import Alias, validate_alias_name, validate_new_alias_name
from strongroom.domain.ids import alias_arn
from strongroom.domain.keys import KeySpec, KmsKey
from strongroom.errors import (
    AlreadyExistsException,
    InvalidMarkerException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from strongroom.operations.authz import authorize_account_action, authorize_alias, authorize_key
from strongroom.operations.common import page, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import (
    CreateAliasRequest,
    DeleteAliasRequest,
    ListAliasesRequest,
    UpdateAliasRequest,
)

__all__ = ["DECLARATIONS", "create_alias", "delete_alias", "list_aliases", "update_alias"]

MAX_ALIASES_PER_KEY = 50


def _target(ctx: RequestContext, svc: Services, identifier: str, operation: str) -> KmsKey:
    key = svc.keys.resolve(ctx.principal, identifier, allow_alias=False)
    authorize_key(ctx, svc, key, operation)
    key.require_not_pending_deletion()
    return key


def _key_type(key: KmsKey) -> str:
    if key.key_spec is KeySpec.SYMMETRIC_DEFAULT:
        return "symmetric"
    return "hmac" if key.key_spec.value.startswith("HMAC_") else "asymmetric"


def create_alias(ctx: RequestContext, svc: Services, params: CreateAliasRequest) -> None:
    name = params["AliasName"]
    validate_new_alias_name(name)
    authorize_alias(ctx, svc, "CreateAlias", name)
    key = _target(ctx, svc, params["TargetKeyId"], "CreateAlias")
    if svc.keys.count_aliases(key) >= MAX_ALIASES_PER_KEY:
        raise LimitExceededException(f"Too many aliases for {key.arn}: the limit is {MAX_ALIASES_PER_KEY}.")
    now = svc.clock.now()
    principal = ctx.principal
    if not svc.keys.insert_alias(Alias(principal.account_id, principal.region, name, key.key_id, now, now)):
        raise AlreadyExistsException(
            f"An alias with the name {alias_arn(principal.region, principal.account_id, name)} already exists"
        )


def update_alias(ctx: RequestContext, svc: Services, params: UpdateAliasRequest) -> None:
    name = params["AliasName"]
    validate_alias_name(name)
    authorize_alias(ctx, svc, "UpdateAlias", name)
    alias = svc.keys.get_alias(ctx.principal, name)
    if alias is None:
        raise NotFoundException(
            f"Alias {alias_arn(ctx.principal.region, ctx.principal.account_id, name)} is not found."
        )
    old_key = svc.keys.find(ctx.principal.region, alias.key_id)
    if old_key is not None:
        authorize_key(ctx, svc, old_key, "UpdateAlias")
    new_key = _target(ctx, svc, params["TargetKeyId"], "UpdateAlias")
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


def delete_alias(ctx: RequestContext, svc: Services, params: DeleteAliasRequest) -> None:
    name = params["AliasName"]
    validate_alias_name(name)
    authorize_alias(ctx, svc, "DeleteAlias", name)
    alias = svc.keys.get_alias(ctx.principal, name)
    key = svc.keys.find(ctx.principal.region, alias.key_id) if alias is not None else None
    if key is not None:
        authorize_key(ctx, svc, key, "DeleteAlias")
    if not svc.keys.delete_alias(ctx.principal, name):
        raise NotFoundException(
            f"Alias {alias_arn(ctx.principal.region, ctx.principal.account_id, name)} is not found."
        )


def list_aliases(ctx: RequestContext, svc: Services, params: ListAliasesRequest) -> dict[str, Any]:
    authorize_account_action(ctx, svc, "ListAliases")
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


DECLARATIONS = (
    Operation("CreateAlias", create_alias, Access.CHANGE),
    Operation("UpdateAlias", update_alias, Access.CHANGE),
    Operation("DeleteAlias", delete_alias, Access.CHANGE),
    Operation("ListAliases", list_aliases, Access.READ),
)
