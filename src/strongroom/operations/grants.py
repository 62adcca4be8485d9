"""Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant (digest section 8)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from strongroom.domain.grants import ChildGrant, Grant, GrantConstraints
from strongroom.domain.ids import root_principal
from strongroom.domain.keys import KeySpec, KmsKey
from strongroom.errors import (
    AccessDeniedException,
    InvalidArnException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.operations.authz import (
    authorize_account_action,
    authorize_key,
    grant_ids_of,
    identity_permits,
)
from strongroom.operations.common import check_dry_run, marker_offset, page, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, GrantKeys, Operation
from strongroom.operations.requests import (
    CreateGrantRequest,
    ListGrantsRequest,
    ListRetirableGrantsRequest,
    RetireGrantRequest,
    RevokeGrantRequest,
)

__all__ = [
    "DECLARATIONS",
    "create_grant",
    "list_grants",
    "list_retirable_grants",
    "retire_grant",
    "revoke_grant",
]

MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_VALUE = 384


_PRINCIPAL_ARN: Final = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):.+")


def _required(params: Mapping[str, Any], member: str) -> str:
    """A member the service requires although the shipped model does not mark it required (newer models
    made ``GranteePrincipal`` and ``RetiringPrincipal`` optional when they added the ``...ServicePrincipal``
    alternatives, which Strongroom does not support), answered in the validator's words."""
    value = params.get(member)
    if value is None:
        camel = member[:1].lower() + member[1:]
        raise ValidationException(
            f"1 validation error detected: Value null at '{camel}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return str(value)


def _principal_account(principal: str) -> str | None:
    """The account of an IAM or STS principal ARN, or None if ``principal`` is not one."""
    found = _PRINCIPAL_ARN.fullmatch(principal)
    return None if found is None else found.group(1)


def _constraints(raw: Mapping[str, Any] | None) -> GrantConstraints | None:
    if not raw:
        return None
    equals, subset = raw.get("EncryptionContextEquals"), raw.get("EncryptionContextSubset")
    for pairs in (equals, subset):
        if pairs is None:
            continue
        if len(pairs) > MAX_CONSTRAINT_PAIRS:
            raise ValidationException(f"A grant constraint can have at most {MAX_CONSTRAINT_PAIRS} pairs.")
        if any(len(v) > MAX_CONSTRAINT_VALUE for v in pairs.values()):
            raise ValidationException(
                f"A grant constraint value can have at most {MAX_CONSTRAINT_VALUE} characters."
            )
    return GrantConstraints(
        tuple(sorted(equals.items())) if equals is not None else None,
        tuple(sorted(subset.items())) if subset is not None else None,
    )


def _check_operations(svc: Services, key: KmsKey, operations: Sequence[str]) -> None:
    """A grant may name only the operations its key's kind accepts (DG "Grant operations")."""
    allowed = svc.catalog.grant_operations(key)
    invalid = [op for op in operations if op not in allowed]
    if invalid:
        raise ValidationException(f"Grant operations {', '.join(invalid)} are not valid for {key.arn}.")


def _refuse_service_principals(params: Mapping[str, Any]) -> None:
    """AWS service principals and ``SourceArn`` constraints name callers that never reach Strongroom (no
    AWS service calls it): a grant for one could never be used, and one dropped silently would allow
    more than was asked. So they are refused, by name."""
    for member in ("GranteeServicePrincipal", "RetiringServicePrincipal"):
        if params.get(member) is not None:
            raise UnsupportedOperationException(
                f"{member} is not supported by Strongroom: no AWS service principal calls it."
            )
    if (params.get("Constraints") or {}).get("SourceArn") is not None:
        raise UnsupportedOperationException(
            "The SourceArn grant constraint is not supported by Strongroom: no AWS service calls it."
        )


def create_grant(ctx: RequestContext, svc: Services, params: CreateGrantRequest) -> dict[str, Any]:
    _refuse_service_principals(params)
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    operations = tuple(dict.fromkeys(params["Operations"]))
    constraints = _constraints(params.get("Constraints"))
    grantee, retiring = _required(params, "GranteePrincipal"), params.get("RetiringPrincipal")
    # kms:EncryptionContext:* and kms:EncryptionContextKeys apply to the constraint's pairs on CreateGrant.
    constrained = dict(constraints.equals or constraints.subset or ()) if constraints else None
    authorize_key(
        ctx,
        svc,
        key,
        "CreateGrant",
        encryption_context=constrained,
        child_grant=ChildGrant(operations, constraints),
        extra={
            "kms:GranteePrincipal": grantee,
            "kms:RetiringPrincipal": retiring,
            "kms:GrantOperations": list(operations),
            "kms:GrantConstraintType": _constraint_type(constraints),
        },
        grant_tokens=params.get("GrantTokens"),
    )
    key.require_usable()
    _check_operations(svc, key, operations)
    if constraints is not None and key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
        # encryption context binds only symmetric ciphertexts (message [UNCONFIRMED])
        raise ValidationException("Grant constraints are valid only for symmetric encryption KMS keys.")
    check_dry_run(params)
    name = params.get("Name")
    grant = None
    if name is not None:
        for existing in svc.keys.grants_named(key, name):
            if (
                existing.grantee_principal,
                existing.retiring_principal,
                existing.operations,
                existing.constraints,
            ) == (grantee, retiring, operations, constraints):
                grant = existing
                break
    if grant is None:
        grant = Grant(
            svc.rng.bytes(32).hex(),
            key.region,
            key.key_id,
            name,
            grantee,
            retiring,
            operations,
            constraints,
            ctx.principal.account_id,
            round(svc.clock.now(), 3),
        )
        svc.keys.insert_grant(grant)
    return {"GrantToken": svc.keys.grant_tokens.issue(grant.grant_id), "GrantId": grant.grant_id}


def _constraint_type(constraints: GrantConstraints | None) -> str | None:
    if constraints is None:
        return None
    return "EncryptionContextEquals" if constraints.equals is not None else "EncryptionContextSubset"


def _entry(grant: Grant, key_arn: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "KeyId": key_arn,
        "GrantId": grant.grant_id,
        "CreationDate": grant.creation_date,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": root_principal(grant.issuing_account),
        "Operations": list(grant.operations),
    }
    if grant.name is not None:
        entry["Name"] = grant.name
    if grant.retiring_principal is not None:
        entry["RetiringPrincipal"] = grant.retiring_principal
    if grant.constraints is not None:
        entry["Constraints"] = grant.constraints.to_wire()
    return entry


def _paged(params: Mapping[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    limit = page_limit(params, default=50, maximum=100)
    start = marker_offset(params)
    more = start + limit < len(entries)
    return page(entries[start : start + limit], limit, "Grants", str(start + limit) if more else None)


def list_grants(ctx: RequestContext, svc: Services, params: ListGrantsRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "ListGrants")
    grants = svc.keys.grants_of(key)
    if params.get("GrantId") is not None:
        grants = [g for g in grants if g.grant_id == params["GrantId"]]
    if params.get("GranteePrincipal") is not None:
        grants = [g for g in grants if g.grantee_principal == params["GranteePrincipal"]]
    if params.get("GranteeServicePrincipal") is not None:
        grants = []  # no grant names a service principal (see _refuse_service_principals)
    return _paged(params, [_entry(g, key.arn) for g in grants])


def list_retirable_grants(
    ctx: RequestContext, svc: Services, params: ListRetirableGrantsRequest
) -> dict[str, Any]:
    """Grants, on keys of any account, whose retiring principal is ``RetiringPrincipal``, which must be
    in the caller's account: the API reference's "You must specify a principal in your Amazon Web
    Services account", and the authorized resource is that principal. So a principal of another account
    is denied as IAM denies a cross-account resource that has no resource-based policy, and a value that
    names no account (not an IAM or STS ARN) is an InvalidArnException."""
    if "RetiringPrincipal" not in params and "RetiringServicePrincipal" in params:
        authorize_account_action(ctx, svc, "ListRetirableGrants")
        return _paged(params, [])  # no grant names a service principal (see _refuse_service_principals)
    retiring = _required(params, "RetiringPrincipal")
    if "RetiringServicePrincipal" in params:
        raise ValidationException(
            "You must specify either RetiringPrincipal or RetiringServicePrincipal, but not both."
        )
    account = _principal_account(retiring)
    if account is None:
        raise InvalidArnException(f"RetiringPrincipal {retiring} is not a valid principal ARN.")
    if account != ctx.principal.account_id:
        raise AccessDeniedException(
            f"User: {ctx.principal.arn} is not authorized to perform: kms:ListRetirableGrants on resource: "
            f"{retiring} because no resource-based policy allows the kms:ListRetirableGrants action"
        )
    authorize_account_action(ctx, svc, "ListRetirableGrants", resource=retiring)
    entries = []
    for grant in svc.keys.retirable_grants(retiring):
        key = svc.keys.find(grant.region, grant.key_id)
        if key is not None:
            entries.append(_entry(grant, key.arn))
    return _paged(params, entries)


def retire_grant(ctx: RequestContext, svc: Services, params: RetireGrantRequest) -> None:
    token, key_id, grant_id = params.get("GrantToken"), params.get("KeyId"), params.get("GrantId")
    if token is not None:
        named = grant_ids_of(svc, [token])[0]
        grant = svc.keys.get_grant(named)
        if grant is None:
            raise InvalidGrantTokenException("The grant token is invalid.")
    elif key_id is not None and grant_id is not None:
        key = svc.keys.resolve(ctx.principal, key_id, allow_alias=False)
        grant = svc.keys.get_grant(grant_id)
        if grant is None or (grant.region, grant.key_id) != (key.region, key.key_id):
            raise InvalidGrantIdException(f"Grant ID {grant_id} is not valid for {key.arn}.")
    else:
        raise ValidationException("Either GrantToken, or KeyId and GrantId, must be specified.")
    owner = svc.keys.find(grant.region, grant.key_id)
    resource = owner.arn if owner is not None else grant.key_id
    if not _may_retire(ctx, svc, grant, owner, resource):
        raise AccessDeniedException(
            f"User: {ctx.principal.arn} is not authorized to perform: kms:RetireGrant on resource: "
            f"{resource} because no grant, resource-based policy or identity-based policy allows the "
            "kms:RetireGrant action"
        )
    check_dry_run(params)
    svc.keys.delete_grant(grant.grant_id)


def _may_retire(ctx: RequestContext, svc: Services, grant: Grant, key: KmsKey | None, resource: str) -> bool:
    """Who may retire a grant (DG "Retiring and revoking grants"): its retiring principal; its grantee if
    the grant includes RetireGrant; and, as a backup, the account that created the grant, the key's
    account, or a retiring account, whose roots may, and whose users and roles may when an identity
    policy allows kms:RetireGrant. An explicit Deny of kms:RetireGrant in the caller's identity policies
    wins over all of these; key policies have no say."""
    principal = ctx.principal
    delegated = identity_permits(ctx, svc, "RetireGrant", resource)
    if principal.arn == grant.retiring_principal:
        return True
    if principal.arn == grant.grantee_principal and "RetireGrant" in grant.operations:
        return True
    accounts = {grant.issuing_account}
    if key is not None:
        accounts.add(key.account_id)
    if grant.retiring_principal is not None and grant.retiring_principal.endswith(":root"):
        accounts.add(grant.retiring_principal.split(":")[4])
    return principal.account_id in accounts and delegated


def revoke_grant(ctx: RequestContext, svc: Services, params: RevokeGrantRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "RevokeGrant")
    grant = svc.keys.get_grant(params["GrantId"])
    if grant is None or (grant.region, grant.key_id) != (key.region, key.key_id):
        raise NotFoundException(f"Grant ID {params['GrantId']} not found for {key.arn}.")
    check_dry_run(params)
    svc.keys.delete_grant(grant.grant_id)


#: A grant token proves its grant: records hold only its digest, in GrantTokens (audit.events).
_TOKEN = frozenset({"GrantToken"})

DECLARATIONS = (
    Operation(
        "CreateGrant",
        create_grant,
        Access.CHANGE,
        cross_account=True,
        grant_keys=GrantKeys.ALL,
        secret_members=_TOKEN,
    ),
    Operation("ListGrants", list_grants, Access.READ, cross_account=True),
    Operation("ListRetirableGrants", list_retirable_grants, Access.READ),
    Operation(
        "RetireGrant",
        retire_grant,
        Access.CHANGE,
        cross_account=True,
        grant_keys=GrantKeys.ALL,
        grant_constraints=False,
        secret_members=_TOKEN,
    ),
    Operation("RevokeGrant", revoke_grant, Access.CHANGE, cross_account=True),
)
