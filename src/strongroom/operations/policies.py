"""Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the checks CreateKey shares (digest 9)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from strongroom.domain.key_policy import DEFAULT_POLICY_NAME, MAX_KEY_POLICY_BYTES
from strongroom.domain.keys import KmsKey
from strongroom.domain.policy import PolicyKind, parse_policy
from strongroom.domain.policy.document import refuse_overly_permissive
from strongroom.errors import (
    AccessDeniedException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    NotFoundException,
)
from strongroom.operations.authz import authorize_key
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import GetKeyPolicyRequest, ListKeyPoliciesRequest, PutKeyPolicyRequest

__all__ = ["DECLARATIONS", "checked_key_policy", "get_key_policy", "list_key_policies", "put_key_policy"]

_IAM_IDENTITY = re.compile(r"arn:aws[\w-]*:iam::\d{12}:(user|role)/.+")
LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


def checked_key_policy(ctx: RequestContext, svc: Services, key: KmsKey, text: str, bypass: bool) -> str:
    """Validate a key policy about to be set on ``key``: size, syntax, principals that exist, and (unless
    ``bypass``) the lockout safety check — the caller must still be allowed to PutKeyPolicy afterwards."""
    if len(text.encode("utf-8")) > MAX_KEY_POLICY_BYTES:
        raise LimitExceededException(f"Key policy is larger than the {MAX_KEY_POLICY_BYTES}-byte quota.")
    policy = parse_policy(text, kind=PolicyKind.KEY)
    refuse_overly_permissive(policy)
    for statement in policy.statements:
        if statement.principals is None:
            continue
        for name in statement.principals.names:
            if _IAM_IDENTITY.fullmatch(name) and not svc.keys.principal_exists(name):
                raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
    if not bypass:
        try:
            svc.auth.authorize_key(ctx.principal, "kms:PutKeyPolicy", key, {}, key_policy=policy)
        except AccessDeniedException:
            raise MalformedPolicyDocumentException(LOCKOUT_MESSAGE) from None
    return text


def _policy_name(params: Mapping[str, Any]) -> None:
    name = params.get("PolicyName")
    if name is not None and name != DEFAULT_POLICY_NAME:
        raise NotFoundException("No such policy exists")


def get_key_policy(ctx: RequestContext, svc: Services, params: GetKeyPolicyRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "GetKeyPolicy")
    _policy_name(params)
    return {"Policy": svc.auth.key_policy_text(key), "PolicyName": DEFAULT_POLICY_NAME}


def put_key_policy(ctx: RequestContext, svc: Services, params: PutKeyPolicyRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    bypass = bool(params.get("BypassPolicyLockoutSafetyCheck"))
    authorize_key(ctx, svc, key, "PutKeyPolicy", extra={"kms:BypassPolicyLockoutSafetyCheck": bypass})
    _policy_name(params)
    text = checked_key_policy(ctx, svc, key, params["Policy"], bypass)
    svc.keys.put_key_policy(key, text)


def list_key_policies(ctx: RequestContext, svc: Services, params: ListKeyPoliciesRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "ListKeyPolicies")
    return {"PolicyNames": [DEFAULT_POLICY_NAME], "Truncated": False}


DECLARATIONS = (
    Operation("GetKeyPolicy", get_key_policy, Access.READ),
    Operation("PutKeyPolicy", put_key_policy, Access.CHANGE),
    Operation("ListKeyPolicies", list_key_policies, Access.READ),
)
