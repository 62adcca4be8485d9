"""Parse and validate an IAM JSON policy document into an immutable, compiled :class:`Policy`.

Why this exists
---------------
A key policy is written once (CreateKey, PutKeyPolicy) and read on every request that touches the key.
So all the work happens here, once: the JSON is checked element by element, principals are normalised
(an account id becomes its ``:root`` ARN), action and resource patterns become :class:`PatternSet` tests,
conditions become compiled closures, and Deny and Allow statements are split into two tuples so that
evaluation can stop at the first Deny. Anything we would not evaluate exactly as IAM does is rejected with
``MalformedPolicyDocumentException`` rather than half understood.

Two kinds of document (:class:`PolicyKind`):

* ``KEY``: a KMS key policy. Every statement needs ``Principal`` or ``NotPrincipal``; AWS KMS's messages
  are "Policy contains a statement with no principal." and "Policy contains a statement with one or more
  invalid principals." (seen in real MalformedPolicyDocumentException answers). A statement without Action
  or Resource is accepted and has no effect (PutKeyPolicy model documentation).
* ``IDENTITY``: an IAM identity policy. A principal is forbidden (IAM's message: "Policy document should
  not specify a principal."), Action/NotAction and Resource/NotResource are required, and Sids are unique.

Accepted principals in ``{"AWS": ...}``: ``"*"``, a 12-digit account id, ``arn:<partition>:iam::<acct>:root``,
``...:user/<path/>name``, ``...:role/<path/>name`` and ``arn:<partition>:sts::<acct>:assumed-role/<role>/
<session>``; wildcards inside ARNs are invalid, as in IAM. ``{"Service": ...}`` is accepted and never
matches an IAM identity. Other principal types are invalid. ``NotPrincipal`` is accepted with ``Deny``
only (the IAM guide: "Using it with Effect Allow is not supported").

``Version`` is ``2012-10-17`` or ``2008-10-17``; absent means ``2008-10-17``, where ``${...}`` is literal
text (policy variables need 2012-10-17). Element names and Effect values are case-sensitive; condition
operator names are matched case-insensitively. Duplicate JSON member names are rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

from strongroom.domain.policy.conditions import ConditionBlock, compile_conditions
from strongroom.domain.policy.patterns import PatternSet
from strongroom.errors import MalformedPolicyDocumentException

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "Effect",
    "Policy",
    "PolicyKind",
    "PrincipalSet",
    "Statement",
    "parse_policy",
    "refuse_overly_permissive",
]

VERSION_2012: Final = "2012-10-17"
VERSION_2008: Final = "2008-10-17"
NO_PRINCIPAL: Final = "Policy contains a statement with no principal."
INVALID_PRINCIPALS: Final = "Policy contains a statement with one or more invalid principals."
IDENTITY_PRINCIPAL: Final = "Policy document should not specify a principal."
OVERLY_PERMISSIVE: Final = (
    "OverlyPermissiveCondition: Using the ForAllValues set operator with a single-valued condition key "
    "matches requests without the specified {what} or with an unspecified {what}. "
    "To fix, remove ForAllValues."
)
# Lower-cased prefixes of the single-valued keys AWS KMS refuses under ForAllValues, and what they name.
_SINGLE_VALUED_PAIRS: Final = (("kms:encryptioncontext:", "encryption context"), ("aws:requesttag/", "tag"))

_TOP_LEVEL: Final = frozenset({"Version", "Id", "Statement"})
_ELEMENTS: Final = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_NAME: Final = r"[\w+=,.@-]+"
_ACCOUNT: Final = re.compile(r"\d{12}")
_IAM_ARN: Final = re.compile(rf"arn:aws[a-z-]*:iam::(\d{{12}}):(?:root|(?:user|role)/(?:{_NAME}/)*{_NAME})")
_SESSION_ARN: Final = re.compile(rf"arn:aws[a-z-]*:sts::(\d{{12}}):assumed-role/({_NAME})/{_NAME}")
_ROLE_ARN: Final = re.compile(rf"arn:aws[a-z-]*:iam::(\d{{12}}):role/(?:{_NAME}/)*({_NAME})")
_ACTION: Final = re.compile(r"\*|[A-Za-z0-9*?-]+:[\w*?-]+")

# Outcomes of principal matching, used by ``evaluate``.
NO_MATCH: Final = 0
DIRECT: Final = 1
VIA_ACCOUNT: Final = 2


class PolicyKind(Enum):
    KEY = "key"
    IDENTITY = "identity"


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


def _malformed(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


def _assumed_role(arn: str) -> tuple[str, str] | None:
    found = _SESSION_ARN.fullmatch(arn) if ":assumed-role/" in arn else None
    return None if found is None else (found.group(1), found.group(2))


class PrincipalSet:
    """The identities one Principal/NotPrincipal element names, indexed for matching.

    ``names`` keeps the normalised AWS principals (account ids as root ARNs) and ``services`` the service
    principals, in document order, for callers that need to show or check them.
    """

    __slots__ = ("any", "arns", "accounts", "roles", "names", "services")

    def __init__(self, aws: Sequence[str], services: Sequence[str]) -> None:
        names: list[str] = []
        for principal in aws:
            if principal != "*" and _ACCOUNT.fullmatch(principal):
                principal = f"arn:aws:iam::{principal}:root"
            elif principal != "*" and not (
                _IAM_ARN.fullmatch(principal) or _SESSION_ARN.fullmatch(principal)
            ):
                raise _malformed(INVALID_PRINCIPALS)
            names.append(principal)
        self.names: Final = tuple(names)
        self.services: Final = tuple(services)
        self.any: Final = "*" in names
        self.arns: Final = frozenset(names)
        self.accounts: Final = frozenset(n.split(":")[4] for n in names if n.endswith(":root"))
        roles = (_ROLE_ARN.fullmatch(n) for n in names)
        self.roles: Final = frozenset((r.group(1), r.group(2)) for r in roles if r is not None)

    def match(self, principal_arn: str, account: str) -> int:
        """``DIRECT`` when the caller is named (or ``*``), ``VIA_ACCOUNT`` when only its account root is."""
        if self.any or principal_arn in self.arns:
            return DIRECT
        if self.roles and _assumed_role(principal_arn) in self.roles:
            return DIRECT
        return VIA_ACCOUNT if account in self.accounts else NO_MATCH

    def excludes(self, principal_arn: str, account: str) -> bool:
        """NotPrincipal: whether the caller is exempt. IAM checks the account, then the role, then the
        session or user, so every link of the caller's chain must be listed (the IAM guide: omit the account
        and "the policy might deny access to the entire account")."""
        if self.any:
            return True
        if account not in self.accounts:
            return False
        role = _assumed_role(principal_arn)
        if role is not None:
            return role in self.roles and principal_arn in self.arns
        return principal_arn.endswith(":root") or principal_arn in self.arns


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. ``actions``/``resources`` are ``None`` when the element is missing (a key
    policy statement without them never applies); ``principals`` is ``None`` in identity policies."""

    sid: str | None
    effect: Effect
    principals: PrincipalSet | None
    principal_negated: bool
    actions: PatternSet | None
    action_negated: bool
    resources: PatternSet | None
    resource_negated: bool
    conditions: ConditionBlock | None

    @property
    def applicable(self) -> bool:
        return self.actions is not None and self.resources is not None


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed policy. ``deny_statements``/``allow_statements`` hold only the applicable statements."""

    kind: PolicyKind
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    deny_statements: tuple[Statement, ...]
    allow_statements: tuple[Statement, ...]


# -- parsing ----------------------------------------------------------------------------------------------
def _strict_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in pairs:
        if name in out:
            raise _malformed(f"The policy contains a duplicate JSON member name: {name!r}.")
        out[name] = value
    return out


def _no_constant(name: str) -> object:
    raise _malformed(f"The policy contains an invalid JSON number: {name}.")


def _strings(raw: object, element: str, message: str | None = None) -> list[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise _malformed(message or f"{element} must be a non-empty string or a non-empty list of strings.")
    return items


def _principal_set(raw: object) -> PrincipalSet:
    if raw == "*":
        return PrincipalSet(["*"], [])
    if not isinstance(raw, dict) or not raw or not set(raw) <= {"AWS", "Service"}:
        raise _malformed(INVALID_PRINCIPALS)
    aws = _strings(raw["AWS"], "AWS", INVALID_PRINCIPALS) if "AWS" in raw else []
    services = _strings(raw["Service"], "Service", INVALID_PRINCIPALS) if "Service" in raw else []
    return PrincipalSet(aws, services)


def _patterns(
    raw: dict[str, object], names: tuple[str, str], fold: bool, variables: bool
) -> tuple[PatternSet | None, bool]:
    positive, negative = names
    if positive in raw and negative in raw:
        raise _malformed(f"A statement cannot contain both {positive} and {negative}.")
    name = positive if positive in raw else negative
    if name not in raw:
        return None, False
    values = _strings(raw[name], name)
    for value in values:
        if fold and not _ACTION.fullmatch(value):
            raise _malformed(
                f"{name} {value!r} must be '*' or a service prefix and action, e.g. 'kms:Encrypt'."
            )
        if not fold and value != "*" and not value.startswith("arn:"):
            raise _malformed(f"{name} {value!r} must be '*' or an ARN.")
    return PatternSet(values, fold_case=fold, variables=variables), name == negative


def _statement(raw: object, kind: PolicyKind, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise _malformed("Each statement must be a JSON object.")
    unknown = sorted(set(raw) - _ELEMENTS)
    if unknown:
        raise _malformed(f"A statement contains an unknown element: {unknown[0]}.")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _malformed("Sid must be a string.")
    effect_raw = raw.get("Effect")
    if effect_raw not in ("Allow", "Deny"):
        raise _malformed(f"Effect must be 'Allow' or 'Deny', not {effect_raw!r}.")
    effect = Effect(effect_raw)

    principals, principal_negated = None, "NotPrincipal" in raw
    if kind is PolicyKind.IDENTITY:
        if "Principal" in raw or "NotPrincipal" in raw:
            raise _malformed(IDENTITY_PRINCIPAL)
    elif "Principal" in raw and principal_negated:
        raise _malformed("A statement cannot contain both Principal and NotPrincipal.")
    elif "Principal" not in raw and not principal_negated:
        raise _malformed(NO_PRINCIPAL)
    else:
        principals = _principal_set(raw["NotPrincipal" if principal_negated else "Principal"])
        if principal_negated and effect is Effect.ALLOW:
            raise _malformed("NotPrincipal is supported only in statements with Effect Deny.")

    actions, action_negated = _patterns(raw, ("Action", "NotAction"), True, False)
    resources, resource_negated = _patterns(raw, ("Resource", "NotResource"), False, variables)
    if kind is PolicyKind.IDENTITY and (actions is None or resources is None):
        raise _malformed("Each statement must contain Action or NotAction, and Resource or NotResource.")
    conditions = compile_conditions(raw["Condition"], variables=variables) if "Condition" in raw else None
    return Statement(
        sid,
        effect,
        principals,
        principal_negated,
        actions,
        action_negated,
        resources,
        resource_negated,
        conditions,
    )


def parse_policy(text: str, *, kind: PolicyKind) -> Policy:
    """Parse, validate and compile a policy document; raises ``MalformedPolicyDocumentException``."""
    try:
        document = json.loads(text, object_pairs_hook=_strict_object, parse_constant=_no_constant)
    except (ValueError, TypeError, RecursionError):
        raise _malformed("The policy is not syntactically valid JSON.") from None
    if not isinstance(document, dict):
        raise _malformed("The policy must be a JSON object.")
    unknown = sorted(set(document) - _TOP_LEVEL)
    if unknown:
        raise _malformed(f"The policy contains an unknown element: {unknown[0]}.")
    version = document.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        raise _malformed(f"Version must be {VERSION_2012!r} or {VERSION_2008!r}.")
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise _malformed("Id must be a string.")
    if "Statement" not in document:
        raise _malformed("The policy must contain a Statement element.")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise _malformed("Statement must be a JSON object or a list of JSON objects.")
    statements = tuple(_statement(raw, kind, version == VERSION_2012) for raw in raw_statements)
    if kind is PolicyKind.IDENTITY:
        sids = [s.sid for s in statements if s.sid]
        if len(sids) != len(set(sids)):
            raise _malformed("Statement IDs (SID) in a single policy must be unique.")
    active = [s for s in statements if s.applicable]
    return Policy(
        kind,
        version,
        policy_id,
        statements,
        tuple(s for s in active if s.effect is Effect.DENY),
        tuple(s for s in active if s.effect is Effect.ALLOW),
    )


def refuse_overly_permissive(policy: Policy) -> None:
    """Refuse a policy being written (PutKeyPolicy, CreateKey, PutUserPolicy/PutRolePolicy) that puts
    ``ForAllValues`` on ``kms:EncryptionContext:<key>`` or ``aws:RequestTag/<key>``.

    Why: both keys are single-valued (one value per request), and ``ForAllValues`` is true when the request
    has no value at all, so ``ForAllValues:StringEquals {"kms:EncryptionContext:tenant": "a"}`` allows
    requests *without* that pair, and with any other pairs. The AWS KMS Developer Guide ("AWS KMS condition
    keys", Using set operators with condition keys) says KMS refuses exactly this, with the
    ``OverlyPermissiveCondition`` text above (``[encryption context or tag]`` filled in for the key). It
    names no other key and not ``ForAnyValue`` (which is no more permissive than the plain operator on a
    single-valued key), so those are accepted, as in AWS. The multivalued ``kms:EncryptionContextKeys``,
    ``aws:TagKeys``, ``kms:GrantOperations`` and ``kms:ResourceAliases`` are what set operators are for.

    Identity policies get the same check (IAM itself is not documented to refuse them; Strongroom evaluates
    both kinds the same way, so the same trap is closed in both). Only documents being written are checked,
    not :func:`parse_policy`, so that a policy stored before this rule still loads and is evaluated as
    written. Raises ``MalformedPolicyDocumentException``."""
    for statement in policy.statements:
        if statement.conditions is None:
            continue
        for condition in statement.conditions.conditions:
            if condition.set_operator != "ForAllValues":
                continue
            key = condition.key.lower()
            for prefix, what in _SINGLE_VALUED_PAIRS:
                if key.startswith(prefix):
                    raise _malformed(OVERLY_PERMISSIVE.format(what=what))
