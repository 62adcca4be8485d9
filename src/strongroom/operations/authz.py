"""What the handlers call to authorize: builds the condition keys KMS defines, only when a policy needs
them (``LazyContext``), and asks the authorizer."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.domain.grants import ChildGrant
from strongroom.domain.ids import alias_arn
from strongroom.domain.keys import KmsKey
from strongroom.domain.policy import ContextValue
from strongroom.errors import AccessDeniedException, InvalidGrantTokenException
from strongroom.operations.context import RequestContext, Services
from strongroom.service.authorization import LazyContext

__all__ = [
    "authorize_account_action",
    "authorize_alias",
    "authorize_key",
    "identity_permits",
]


def _common(ctx: RequestContext, svc: Services) -> dict[str, ContextValue]:
    now = svc.clock.now()
    return {
        "kms:CallerAccount": ctx.principal.account_id,
        "aws:SourceIp": ctx.source_ip or None,
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "aws:EpochTime": int(now),
        "aws:SecureTransport": False,
        "kms:GrantIsForAWSResource": False,
    }


def _key_values(key: KmsKey, svc: Services) -> dict[str, ContextValue]:
    values: dict[str, ContextValue] = {
        "kms:KeySpec": key.key_spec.value,
        "kms:KeyUsage": key.key_usage.value,
        "kms:KeyOrigin": key.origin.value,
        "kms:MultiRegion": key.multi_region,
        "kms:ResourceAliases": svc.keys.alias_names(key),
    }
    for tag_key, tag_value in key.tags:
        values[f"aws:ResourceTag/{tag_key}"] = tag_value
    return values


def request_alias(identifier: str | None) -> str | None:
    """The alias name a request used to name its key, for ``kms:RequestAlias``."""
    if not identifier:
        return None
    if identifier.startswith("alias/"):
        return identifier
    if identifier.startswith("arn:") and ":alias/" in identifier:
        return identifier[identifier.index(":alias/") + 1 :]
    return None


def authorize_key(
    ctx: RequestContext,
    svc: Services,
    key: KmsKey,
    operation: str,
    *,
    identifier: str | None = None,
    encryption_context: Mapping[str, str] | None = None,
    extra: Mapping[str, ContextValue] | None = None,
    grant_tokens: Sequence[str] | None = None,
    child_grant: ChildGrant | None = None,
) -> None:
    ctx.resolved_keys.append(key.arn)
    grant_ids = grant_ids_of(svc, grant_tokens)
    if key.account_id != ctx.principal.account_id and not svc.catalog.crosses_accounts(operation):
        raise AccessDeniedException(
            f"User: {ctx.principal.arn} is not authorized to perform: kms:{operation} on resource: "
            f"{key.arn} because no resource-based policy allows the kms:{operation} action"
        )

    def build() -> dict[str, ContextValue]:
        values = _common(ctx, svc)
        values.update(_key_values(key, svc))
        alias = request_alias(identifier)
        if alias is not None:
            values["kms:RequestAlias"] = alias
        if encryption_context is not None:
            for name, value in encryption_context.items():
                values[f"kms:EncryptionContext:{name}"] = value
            values["kms:EncryptionContextKeys"] = list(encryption_context)
        if extra:
            values.update(extra)
        return values

    svc.auth.authorize_key(
        ctx.principal,
        "kms:" + operation,
        key,
        LazyContext(build),
        encryption_context=encryption_context,
        grant_ids=grant_ids,
        child_grant=child_grant,
        grant_constraints_apply=svc.catalog.grant_constraints_apply(operation),
    )


def grant_ids_of(svc: Services, tokens: Sequence[str] | None) -> list[str]:
    """Grant ids named by grant tokens; InvalidGrantTokenException for a token that is not one of ours."""
    ids = []
    for token in tokens or ():
        grant_id = svc.keys.grant_tokens.grant_id(token)
        if grant_id is None:
            raise InvalidGrantTokenException("The grant token is invalid.")
        ids.append(grant_id)
    return ids


def authorize_account_action(
    ctx: RequestContext,
    svc: Services,
    operation: str,
    extra: Mapping[str, ContextValue] | None = None,
    *,
    resource: str = "*",
) -> None:
    """Actions on no key (CreateKey, ListKeys, ListAliases, GenerateRandom, ...): IAM policies only.
    ``resource`` is what the policies' Resource must match (ListRetirableGrants: the retiring principal)."""

    def build() -> dict[str, ContextValue]:
        values = _common(ctx, svc)
        if extra:
            values.update(extra)
        return values

    svc.auth.authorize_identity(ctx.principal, "kms:" + operation, resource, LazyContext(build))


def identity_permits(ctx: RequestContext, svc: Services, operation: str, resource: str) -> bool:
    """Whether the caller's identity policies allow ``operation`` on ``resource``, without raising for a
    mere lack of Allow (RetireGrant's delegation); an explicit Deny still raises AccessDeniedException."""
    return svc.auth.identity_permits(
        ctx.principal, "kms:" + operation, resource, LazyContext(lambda: _common(ctx, svc))
    )


def authorize_alias(ctx: RequestContext, svc: Services, operation: str, alias_name: str) -> None:
    """The alias side of CreateAlias/UpdateAlias/DeleteAlias: IAM policies on the alias ARN."""
    resource = alias_arn(ctx.principal.region, ctx.principal.account_id, alias_name)
    svc.auth.authorize_identity(
        ctx.principal, "kms:" + operation, resource, LazyContext(lambda: _common(ctx, svc))
    )


def tag_context(tags: Any) -> dict[str, ContextValue]:
    """``aws:RequestTag/<key>`` and ``aws:TagKeys`` for requests that carry tags."""
    pairs = [(t["TagKey"], t["TagValue"]) for t in tags or ()]
    values: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    values["aws:TagKeys"] = [k for k, _ in pairs]
    return values
