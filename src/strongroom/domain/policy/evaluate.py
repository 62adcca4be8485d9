"""Evaluate a compiled policy against one authorization request.

Why this exists
---------------
This runs on every KMS request, at least once for the key policy and once per identity policy, so it is
written for the common case: the default key policy (one Allow statement, Principal the account root,
Action ``kms:*``, Resource ``*``) must cost a microsecond or two. The request lower-cases its action once
on construction; the lower-cased condition context is built only when a statement has conditions or a
resource pattern with policy variables, and then cached on the request for the next policy.

What a :class:`PolicyResult` means
----------------------------------
One policy on its own cannot decide a KMS request; the caller combines the key policy, the caller's
identity policies and grants. So a result reports what this policy says, with precedence
deny > allow > allow-via-account, and the three flags are mutually exclusive:

* ``explicit_deny``: a Deny statement applies. Evaluation stops there (the allow flags stay False).
  In a Deny, a principal naming an account root covers every principal of that account.
* ``allowed``: an Allow statement applies whose principal names the caller itself, an assumed-role
  session's role, or ``*`` (identity policies have no principal: any applying Allow counts).
* ``allowed_via_account``: an Allow statement applies only because its principal names the caller's
  account root. In AWS KMS that delegates to IAM: the caller also needs an identity-policy Allow, unless
  the caller *is* the account root (then its ARN is named directly and ``allowed`` is set instead).

Matching rules: actions case-insensitively with ``*``/``?`` (``NotAction`` applies when none matches);
resources case-sensitively with ``*``/``?`` and policy variables (``NotResource`` likewise); ``NotPrincipal``
(Deny only) applies to every caller it does not exempt (see ``PrincipalSet.excludes``). A statement whose
resource pattern holds an unresolvable policy variable does not apply.

Request keys whose names differ only in case fold into one :class:`~strongroom.domain.policy.patterns.
Ambiguous` entry, read conservatively: an Allow statement applies only if it would for each of their
values, a Deny statement if it would for any (``conditions`` has the rule).

The lower-cased context also answers ``aws:PrincipalArn``, ``aws:PrincipalAccount`` and, for IAM users,
``aws:username`` from the request's own fields, unless the caller supplied them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Final

from strongroom.domain.policy.conditions import fold_context
from strongroom.domain.policy.document import DIRECT, NO_MATCH, VIA_ACCOUNT, Effect, Policy, Statement
from strongroom.domain.policy.patterns import (
    Ambiguous,
    Context,
    ContextValue,
    VariableAmbiguous,
    VariableUnresolved,
)

__all__ = [
    "AuthorizationRequest",
    "PolicyResult",
    "StatementOutcome",
    "evaluate_policy",
    "evaluate_statement",
]

_EMPTY: Final[Mapping[str, ContextValue]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Who asks to do what to which resource, with the condition context (key names case-insensitive)."""

    principal_arn: str
    principal_account: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=lambda: _EMPTY)
    _action: str = field(init=False, repr=False, compare=False)
    _folded: dict[str, ContextValue | Ambiguous] | None = field(
        init=False, default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_action", self.action.lower())

    def folded_context(self) -> Context:
        """The context keyed by lower-cased names, built once per request."""
        folded = self._folded
        if folded is None:
            folded = fold_context(self.context)
            folded.setdefault("aws:principalarn", self.principal_arn)
            folded.setdefault("aws:principalaccount", self.principal_account)
            if ":user/" in self.principal_arn:
                folded.setdefault("aws:username", self.principal_arn.rsplit("/", 1)[1])
            object.__setattr__(self, "_folded", folded)
        return folded


class StatementOutcome(Enum):
    NO_MATCH = "no_match"
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    explicit_deny: bool
    allowed: bool
    allowed_via_account: bool


_NOTHING: Final = PolicyResult(False, False, False)
_DENIED: Final = PolicyResult(True, False, False)
_ALLOWED: Final = PolicyResult(False, True, False)
_VIA_ACCOUNT: Final = PolicyResult(False, False, True)


def _match(statement: Statement, request: AuthorizationRequest) -> int:
    """How the statement applies to the request: NO_MATCH, DIRECT or VIA_ACCOUNT."""
    actions = statement.actions
    resources = statement.resources
    assert actions is not None and resources is not None  # only applicable statements get here
    if actions.matches(request._action) == statement.action_negated:
        return NO_MATCH
    deny = statement.effect is Effect.DENY
    resource = request.resource
    hit = resources.matches(resource)
    if not hit and resources.templates:
        try:
            hit = resources.matches_templates(resource, request.folded_context())
        except VariableAmbiguous:
            if not deny:
                return NO_MATCH
            hit = not statement.resource_negated  # ambiguity must make a Deny apply (see conditions)
        except VariableUnresolved:
            return NO_MATCH
    if hit == statement.resource_negated:
        return NO_MATCH
    principals = statement.principals
    if principals is None:
        how = DIRECT
    elif statement.principal_negated:
        if principals.excludes(request.principal_arn, request.principal_account):
            return NO_MATCH
        how = DIRECT
    else:
        how = principals.match(request.principal_arn, request.principal_account)
        if how == NO_MATCH:
            return NO_MATCH
    conditions = statement.conditions
    if conditions is not None and not conditions.holds(request.folded_context(), deny=deny):
        return NO_MATCH
    return how


def evaluate_statement(statement: Statement, request: AuthorizationRequest) -> StatementOutcome:
    """Whether one statement allows, denies or does not apply (an account-root match counts as applying)."""
    if not statement.applicable or _match(statement, request) == NO_MATCH:
        return StatementOutcome.NO_MATCH
    return StatementOutcome.DENY if statement.effect == "Deny" else StatementOutcome.ALLOW


def evaluate_policy(policy: Policy, request: AuthorizationRequest) -> PolicyResult:
    """What ``policy`` says about ``request``; see the module docstring for the flags."""
    for statement in policy.deny_statements:
        if _match(statement, request) != NO_MATCH:
            return _DENIED
    result = _NOTHING
    for statement in policy.allow_statements:
        how = _match(statement, request)
        if how == DIRECT:
            return _ALLOWED
        if how == VIA_ACCOUNT:
            result = _VIA_ACCOUNT
    return result
