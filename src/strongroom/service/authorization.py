"""Authorization: the key policy, the caller's identity policies and the key's grants, on every request.

The decision follows AWS KMS:

1. An explicit Deny in the key policy or in any identity policy of the caller wins.
2. Otherwise the request is allowed when
   * the key policy allows the caller by name (or ``*``) and the caller is in the key's account; or
   * the key policy allows the caller's *account* (the default policy does) and the caller is that
     account's root, or one of its identity policies allows the action; for a caller from another account,
     the key policy must allow it (by name or account) *and* its identity policies must; or
   * a grant on the key names the caller and the operation, and its constraints hold.
3. Account-level actions (CreateKey, ListKeys, GenerateRandom, ...) and the alias side of alias operations
   need only an identity-policy Allow (the account root always has it).

Compiled policies and grants are cached per worker and evicted through the change log, like keys.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence

from strongroom.clock import Clock
from strongroom.domain.grants import ChildGrant, Grant
from strongroom.domain.key_policy import default_key_policy
from strongroom.domain.keys import KmsKey
from strongroom.domain.policy import (
    AuthorizationRequest,
    ContextValue,
    Policy,
    PolicyKind,
    evaluate_policy,
    parse_policy,
)
from strongroom.errors import AccessDeniedException
from strongroom.service.cache_stats import CacheStats
from strongroom.service.keyring import Principal
from strongroom.storage.base import Change, ChangeKind, MetadataStore

__all__ = ["Authorizer", "LazyContext"]


class LazyContext(Mapping[str, ContextValue]):
    """Condition keys computed only if a policy statement has conditions to check."""

    __slots__ = ("_build", "_values")

    def __init__(self, build: Callable[[], dict[str, ContextValue]]) -> None:
        self._build = build
        self._values: dict[str, ContextValue] | None = None

    def _resolved(self) -> dict[str, ContextValue]:
        if self._values is None:
            self._values = self._build()
        return self._values

    def __getitem__(self, key: str) -> ContextValue:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())

    def items(self) -> ItemsView[str, ContextValue]:
        # The dict's own view: Mapping's generic one would go through __getitem__ for every key.
        return self._resolved().items()


def is_root(principal_arn: str) -> bool:
    return principal_arn.endswith(":root")


class Authorizer:
    def __init__(self, store: MetadataStore, clock: Clock, stats: CacheStats | None = None) -> None:
        self._store = store
        self._clock = clock
        self._stats = stats or CacheStats()
        self._key_policies: dict[tuple[str, str], Policy] = {}
        self._identity: dict[str, tuple[Policy, ...]] = {}
        self._grants: dict[tuple[str, str], tuple[Grant, ...]] = {}

    # -- cache maintenance ---------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.kind is ChangeKind.KEY:
            self._key_policies.pop((change.region, change.name), None)
            self._grants.pop((change.region, change.name), None)
        elif change.kind is ChangeKind.GRANT:
            self._grants.pop((change.region, change.name), None)
        elif change.kind is ChangeKind.PRINCIPAL:
            self._identity.pop(change.name, None)

    def flush(self) -> None:
        self._key_policies.clear()
        self._identity.clear()
        self._grants.clear()

    # -- policies ------------------------------------------------------------------------------------
    def key_policy_text(self, key: KmsKey) -> str:
        return self._store.get_key_policy(key.region, key.key_id) or default_key_policy(key.account_id)

    def key_policy(self, key: KmsKey) -> Policy:
        cached = self._key_policies.get((key.region, key.key_id))
        self._stats.count("key_policy", cached is not None)
        if cached is None:
            cached = parse_policy(self.key_policy_text(key), kind=PolicyKind.KEY)
            self._key_policies[(key.region, key.key_id)] = cached
        return cached

    def identity_policies(self, principal_arn: str) -> tuple[Policy, ...]:
        cached = self._identity.get(principal_arn)
        self._stats.count("identity_policies", cached is not None)
        if cached is None:
            record = None if is_root(principal_arn) else self._store.get_principal_by_arn(principal_arn)
            documents = self._store.list_identity_policies(record) if record is not None else []
            cached = tuple(parse_policy(text, kind=PolicyKind.IDENTITY) for _, text in documents)
            self._identity[principal_arn] = cached
        return cached

    def grants(self, key: KmsKey) -> tuple[Grant, ...]:
        cached = self._grants.get((key.region, key.key_id))
        if cached is None:
            cached = tuple(self._store.list_grants(key.region, key.key_id))
            self._grants[(key.region, key.key_id)] = cached
        return cached

    # -- decisions -----------------------------------------------------------------------------------
    def authorize_key(
        self,
        principal: Principal,
        action: str,
        key: KmsKey,
        context: Mapping[str, ContextValue],
        *,
        encryption_context: Mapping[str, str] | None = None,
        key_policy: Policy | None = None,
        grant_ids: Sequence[str] = (),
        child_grant: ChildGrant | None = None,
        grant_constraints_apply: bool = True,
    ) -> None:
        """Raise AccessDeniedException unless ``principal`` may perform ``action`` (``kms:Encrypt``) on
        ``key``; ``key_policy`` overrides the stored one (the lockout check of a policy being set).
        ``grant_constraints_apply``: whether a grant's encryption-context constraints must hold (the
        operation's declaration says; not for DescribeKey, GetPublicKey, RetireGrant).
        ``child_grant`` is the grant a CreateGrant request would create: a grant that gives CreateGrant
        allows only children with a subset of its operations and constraints at least as strict."""
        request = AuthorizationRequest(principal.arn, principal.account_id, action, key.arn, context)
        verdict = evaluate_policy(key_policy or self.key_policy(key), request)
        if verdict.explicit_deny:
            raise _denied(principal.arn, action, key.arn, "with an explicit deny in a resource-based policy")
        root = is_root(principal.arn)
        identity_allows = root or self._identity_allows(principal.arn, request, action, key.arn)
        same_account = principal.account_id == key.account_id
        if verdict.allowed and (same_account or identity_allows):
            return
        if verdict.allowed_via_account and identity_allows:
            return
        if self._grant_allows(
            principal.arn, action, key, encryption_context, grant_ids, child_grant, grant_constraints_apply
        ):
            return
        if verdict.allowed or verdict.allowed_via_account:
            raise _denied(
                principal.arn, action, key.arn, f"because no identity-based policy allows the {action} action"
            )
        raise _denied(
            principal.arn, action, key.arn, f"because no resource-based policy allows the {action} action"
        )

    def authorize_identity(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, ContextValue]
    ) -> None:
        """For actions governed by IAM policies alone (account-level actions, the alias of alias actions)."""
        if not self.identity_permits(principal, action, resource, context):
            raise _denied(
                principal.arn,
                action,
                resource,
                f"because no identity-based policy allows the {action} action",
            )

    def identity_permits(
        self, principal: Principal, action: str, resource: str, context: Mapping[str, ContextValue]
    ) -> bool:
        """Whether the caller's identity policies allow ``action`` on ``resource`` (the account root's
        always do); AccessDeniedException if one of them explicitly denies it."""
        if is_root(principal.arn):
            return True
        request = AuthorizationRequest(principal.arn, principal.account_id, action, resource, context)
        return self._identity_allows(principal.arn, request, action, resource)

    def _identity_allows(
        self, principal_arn: str, request: AuthorizationRequest, action: str, resource: str
    ) -> bool:
        allowed = False
        for policy in self.identity_policies(principal_arn):
            result = evaluate_policy(policy, request)
            if result.explicit_deny:
                raise _denied(
                    principal_arn, action, resource, "with an explicit deny in an identity-based policy"
                )
            allowed = allowed or result.allowed
        return allowed

    def _grant_allows(
        self,
        principal_arn: str,
        action: str,
        key: KmsKey,
        encryption_context: Mapping[str, str] | None,
        grant_ids: Sequence[str],
        child_grant: ChildGrant | None,
        constraints_apply: bool,
    ) -> bool:
        """A grant naming the caller and the operation, whose constraints hold. Grants named by grant
        tokens are read from the store directly: a token makes its grant usable at once, even before
        this worker's cache has heard of it."""
        operation = action[4:]
        candidates = list(self.grants(key))
        known = {g.grant_id for g in candidates}
        for grant_id in grant_ids:
            if grant_id not in known:
                grant = self._store.get_grant(grant_id)
                if grant is not None and (grant.region, grant.key_id) == (key.region, key.key_id):
                    candidates.append(grant)
        for grant in candidates:
            if grant.grantee_principal != principal_arn or operation not in grant.operations:
                continue
            if child_grant is not None:
                if grant.permits_child(child_grant):
                    return True
                continue
            if grant.constraints is None or not constraints_apply:
                return True
            if grant.constraints.allows(encryption_context):
                return True
        return False

    def matching_grants(self, key: KmsKey, principal_arn: str) -> Sequence[Grant]:
        return [g for g in self.grants(key) if g.grantee_principal == principal_arn]


def _denied(principal_arn: str, action: str, resource: str, reason: str) -> AccessDeniedException:
    return AccessDeniedException(
        f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {reason}"
    )
