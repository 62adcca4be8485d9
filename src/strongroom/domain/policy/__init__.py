"""IAM policy documents for Strongroom: parse once into compiled objects, evaluate on every request.

Pure Python, no I/O. ``document`` parses and validates key and identity policies, ``conditions`` compiles
the condition operators, ``patterns`` holds the shared wildcard and policy-variable machinery, and
``evaluate`` answers what one policy says about one :class:`AuthorizationRequest`. Combining the key
policy, identity policies and grants into a decision is the caller's job.
"""

from strongroom.domain.policy.conditions import Condition, ConditionBlock, compile_conditions, fold_context
from strongroom.domain.policy.document import (
    VERSION_2008,
    VERSION_2012,
    Effect,
    Policy,
    PolicyKind,
    PrincipalSet,
    Statement,
    parse_policy,
)
from strongroom.domain.policy.evaluate import (
    AuthorizationRequest,
    PolicyResult,
    StatementOutcome,
    evaluate_policy,
    evaluate_statement,
)
from strongroom.domain.policy.patterns import ContextValue, PatternSet

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "AuthorizationRequest",
    "Condition",
    "ConditionBlock",
    "ContextValue",
    "Effect",
    "PatternSet",
    "Policy",
    "PolicyKind",
    "PolicyResult",
    "PrincipalSet",
    "Statement",
    "StatementOutcome",
    "compile_conditions",
    "evaluate_policy",
    "evaluate_statement",
    "fold_context",
    "parse_policy",
]
