"""IAM condition operators, each compiled once into a closure that answers one request value.

Why this exists
---------------
A ``Condition`` block is the part of a policy that looks at the request context (encryption context,
caller account, source IP, time). It is evaluated for every statement whose action, resource and principal
already match, on every request, so the policy's values are parsed here once (numbers, dates, CIDRs,
base64, wildcard regexes) and a malformed value is rejected at PutKeyPolicy time with
``MalformedPolicyDocumentException`` instead of surfacing as a silent mismatch later.

Semantics (IAM User Guide, "Condition operators", "Conditions with multiple context keys or values",
"Single-valued vs. multivalued context keys")
---------------------------------------------------------------------------------------------------------
* Operators in one block are ANDed; keys under one operator are ANDed; the values listed for one key are
  ORed. A negated operator (``StringNotEquals``, ``StringNotLike``, ``NumericNotEquals``,
  ``DateNotEquals``, ``ArnNotEquals``, ``ArnNotLike``, ``NotIpAddress``, ...) is true when the request
  value matches *none* of them (NOR).
* Key names are case-insensitive (the context is looked up by lower-cased name); values follow the
  operator (``StringEquals`` is case-sensitive, ``StringEqualsIgnoreCase`` is not).
* Request keys whose names differ only in case (encryption context ``{"tenant": "bob", "Tenant":
  "alice"}``, tags ``Env`` and ``env``) are all matched by the one condition key, and the order of the pairs
  must not matter. Our rule (IAM documents none): every matching pair is tested on its own, and the
  statement is read conservatively. In an Allow statement the condition holds only if it holds for every
  one of them; in a Deny statement it holds if it holds for any one. A policy variable naming such a key
  makes an Allow statement not apply and a Deny statement apply. So a request is never allowed unless it
  would be allowed with each of those pairs alone: ``StringEquals tenant alice`` does not allow the
  example, and neither does ``StringNotEquals tenant bob``; a ``Deny`` on ``StringNotEquals tenant
  alice`` denies it. ``...IfExists`` and ``Null`` see the key as present.
* A key absent from the request makes a positive operator false and a negated one true. ``...IfExists``
  makes an absent key true. ``Null: true`` is true when the key is absent, ``Null: false`` when present.
  An empty list counts as absent (the guide: empty values are what ``Null: false`` guards against).
* ``ForAllValues:`` is true when *every* request value satisfies the operator (so also for an absent or
  empty key); ``ForAnyValue:`` when at least one does (false for an absent or empty key). With a negated
  operator the test is per request value: ``ForAllValues:StringNotLike`` = no request value matches any
  policy value.
* Our choice for a multi-valued request key used *without* a set prefix (the guide only says such keys
  "require" one): a positive operator is true when any request value matches (as ``ForAnyValue``), and a
  negated operator is its exact negation (no request value matches any policy value).
* A request value that cannot be read as the operator's type (``"abc"`` for ``NumericLessThan``) matches no
  policy value: the positive operator is false, the negated one true.
* Dates on both sides are ISO 8601 (a zone-less time is UTC) or epoch seconds. ``Bool`` takes ``true`` /
  ``false`` in any case or a JSON boolean. ``BinaryEquals`` compares base64-decoded bytes. ``IpAddress``
  takes IPv4/IPv6 addresses or CIDR blocks (host bits allowed); a v4 address never lies in a v6 block.
* Policy variables are honoured in string and ARN operators only (see ``patterns``); an unresolvable one
  makes the whole block false, so the statement does not apply.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import operator
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Final, TypeAlias, TypeVar

from strongroom.domain.policy.patterns import (
    Ambiguous,
    Context,
    ContextValue,
    Template,
    VariableAmbiguous,
    VariableUnresolved,
    scalar_text,
    wildcard_regex,
)
from strongroom.errors import MalformedPolicyDocumentException

__all__ = ["Condition", "ConditionBlock", "compile_conditions", "fold_context"]

PolicyScalar: TypeAlias = str | int | float | bool
# One request value -> does it match any of the policy's values for this key?
Test: TypeAlias = Callable[[PolicyScalar, Context], bool]
Family: TypeAlias = Callable[[list[PolicyScalar], bool, str], Test]
_T = TypeVar("_T")
_SCALARS: Final = (str, bool, int, float)
_PLAIN, _ANY, _ALL = 0, 1, 2


def fold_context(context: Mapping[str, ContextValue]) -> dict[str, ContextValue | Ambiguous]:
    """The context keyed by lower-cased names (condition key names are case-insensitive).

    Names that differ only in case (``kms:EncryptionContext:tenant`` and ``...:Tenant``) fold to one entry
    holding an :class:`Ambiguous` of all their values, in sorted-name order, so the result does not depend
    on the order of the request's pairs."""
    folded: dict[str, ContextValue | Ambiguous] = {key.lower(): value for key, value in context.items()}
    if len(folded) == len(context):
        return folded  # the common case: no two names fold together
    groups: dict[str, list[tuple[str, ContextValue]]] = {}
    for key, value in context.items():
        groups.setdefault(key.lower(), []).append((key, value))
    for name, pairs in groups.items():
        if len(pairs) > 1:
            folded[name] = Ambiguous(tuple(value for _, value in sorted(pairs, key=lambda pair: pair[0])))
    return folded


def _malformed(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


# -- value parsers (policy side raises, request side returns None) ----------------------------------------
_NUMBER: Final = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_EPOCH: Final = re.compile(r"\s*-?\d+(?:\.\d+)?\s*")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None


def _date(value: object) -> float | None:
    if not isinstance(value, str) or _EPOCH.fullmatch(value):
        return _number(value)  # epoch seconds
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _binary(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parsed(values: list[PolicyScalar], parse: Callable[[object], _T | None], kind: str, op: str) -> list[_T]:
    out: list[_T] = []
    for value in values:
        parsed = parse(value)
        if parsed is None:
            raise _malformed(f"Condition operator {op} has a value that is not a valid {kind}: {value!r}.")
        out.append(parsed)
    return out


# -- operator families: each returns the positive Test ----------------------------------------------------
def _templates(values: list[PolicyScalar], variables: bool) -> list[Template]:
    return [Template(scalar_text(value) or "", variables=variables) for value in values]


def _string_equals(values: list[PolicyScalar], variables: bool, op: str, fold: bool = False) -> Test:
    templates = _templates(values, variables)
    static = frozenset(
        t.render(None).lower() if fold else t.render(None) for t in templates if not t.has_variables
    )
    dynamic = tuple(t for t in templates if t.has_variables)

    def test(value: PolicyScalar, context: Context) -> bool:
        text = scalar_text(value)
        if text is None:
            return False
        if fold:
            text = text.lower()
        if text in static:
            return True
        for template in dynamic:
            rendered = template.render(context)
            if (rendered.lower() if fold else rendered) == text:
                return True
        return False

    return test


def _like(values: list[PolicyScalar], variables: bool, op: str, arn: bool = False) -> Test:
    templates = _templates(values, variables)
    sources = [f"(?:{wildcard_regex(t.chunks(None), arn=arn)})" for t in templates if not t.has_variables]
    static = re.compile("|".join(sources), re.DOTALL) if sources else None
    dynamic = tuple(t for t in templates if t.has_variables)

    def test(value: PolicyScalar, context: Context) -> bool:
        text = scalar_text(value)
        if text is None:
            return False
        if static is not None and static.fullmatch(text) is not None:
            return True
        return any(
            re.fullmatch(wildcard_regex(t.chunks(context), arn=arn), text, re.DOTALL) is not None
            for t in dynamic
        )

    return test


def _arn(values: list[PolicyScalar], variables: bool, op: str) -> Test:
    # ArnEquals and ArnLike behave identically in IAM: both take wildcards, component by component.
    return _like(values, variables, op, arn=True)


def _ordered(
    parse: Callable[[object], float | None], kind: str, compare: Callable[[float, float], bool]
) -> Family:
    def family(values: list[PolicyScalar], variables: bool, op: str) -> Test:
        limits: tuple[float, ...] = tuple(_parsed(values, parse, kind, op))

        def test(value: PolicyScalar, context: Context) -> bool:
            parsed = parse(value)
            return parsed is not None and any(compare(parsed, limit) for limit in limits)

        return test

    return family


def _bool(values: list[PolicyScalar], variables: bool, op: str) -> Test:
    allowed = frozenset(_parsed(values, _boolean, "boolean", op))
    return lambda value, context: _boolean(value) in allowed


def _binary_equals(values: list[PolicyScalar], variables: bool, op: str) -> Test:
    allowed = frozenset(_parsed(values, _binary, "base64 string", op))
    return lambda value, context: _binary(value) in allowed


def _network(value: object) -> tuple[int, int, int] | None:
    """(version, network, mask) as integers, so that a request address is tested with one AND."""
    try:
        network = ipaddress.ip_network(value, strict=False) if isinstance(value, str) else None
    except ValueError:
        return None
    return None if network is None else (network.version, int(network.network_address), int(network.netmask))


def _ip(values: list[PolicyScalar], variables: bool, op: str) -> Test:
    networks = _parsed(values, _network, "IP address or CIDR block", op)
    v4 = tuple((net, mask) for version, net, mask in networks if version == 4)
    v6 = tuple((net, mask) for version, net, mask in networks if version == 6)
    pton, inet4, inet6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6

    def test(value: PolicyScalar, context: Context) -> bool:
        # inet_pton is a pure conversion (no I/O), ten times faster than ipaddress.ip_address.
        if not isinstance(value, str):
            return False
        try:
            number, blocks = int.from_bytes(pton(inet4, value), "big"), v4
        except (OSError, ValueError, UnicodeError):
            try:
                number, blocks = int.from_bytes(pton(inet6, value), "big"), v6
            except (OSError, ValueError, UnicodeError):
                return False
        return any(number & mask == net for net, mask in blocks)

    return test


_ORDERINGS: Final = {
    "equals": operator.eq,
    "lessthan": operator.lt,
    "lessthanequals": operator.le,
    "greaterthan": operator.gt,
    "greaterthanequals": operator.ge,
}

# lower-cased operator name -> (family, negated, takes policy variables)
_OPERATORS: dict[str, tuple[Family, bool, bool]] = {
    "stringequals": (_string_equals, False, True),
    "stringnotequals": (_string_equals, True, True),
    "stringequalsignorecase": (partial(_string_equals, fold=True), False, True),
    "stringnotequalsignorecase": (partial(_string_equals, fold=True), True, True),
    "stringlike": (_like, False, True),
    "stringnotlike": (_like, True, True),
    "bool": (_bool, False, False),
    "binaryequals": (_binary_equals, False, False),
    "ipaddress": (_ip, False, False),
    "notipaddress": (_ip, True, False),
    "arnequals": (_arn, False, True),
    "arnlike": (_arn, False, True),
    "arnnotequals": (_arn, True, True),
    "arnnotlike": (_arn, True, True),
}
for _prefix, _parse, _kind in (("numeric", _number, "number"), ("date", _date, "date")):
    for _suffix, _compare in _ORDERINGS.items():
        _OPERATORS[f"{_prefix}{_suffix}"] = (_ordered(_parse, _kind, _compare), False, False)
    _OPERATORS[f"{_prefix}notequals"] = (_ordered(_parse, _kind, operator.eq), True, False)


# -- compiled conditions ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key) pair of a Condition block with its values compiled."""

    operator: str
    key: str
    negated: bool
    if_exists: bool
    set_operator: str | None  # "ForAnyValue", "ForAllValues" or None
    _key: str
    _mode: int
    _test: Test | None  # None for the Null operator
    _null: frozenset[bool]

    def holds(self, context: Context, *, deny: bool = False) -> bool:
        """Evaluate against a lower-cased context; raises ``VariableUnresolved`` (see ConditionBlock).

        For an :class:`Ambiguous` key, each candidate value is tested as if it were the only one, and the
        answer is the conservative one: in an Allow statement (``deny`` false) every candidate must satisfy
        the condition, in a Deny statement one suffices. So no request is allowed that one of its pairs
        alone would not be allowed for, whatever the operator (negated ones, ``...IfExists``, ``Null``)."""
        value = context.get(self._key)
        if isinstance(value, Ambiguous):
            if deny:
                return any(self._holds(candidate, context) for candidate in value.values)
            return all(self._holds(candidate, context) for candidate in value.values)
        return self._holds(value, context)

    def _holds(self, value: ContextValue, context: Context) -> bool:
        present = value is not None and (isinstance(value, _SCALARS) or len(value) > 0)
        test = self._test
        if test is None:
            return (not present) in self._null
        if not present:
            return self.if_exists or self._mode == _ALL or (self._mode == _PLAIN and self.negated)
        if isinstance(value, _SCALARS):
            return test(value, context) != self.negated  # a single value is a one-element set
        assert value is not None
        if self._mode == _ALL:
            return all(test(item, context) != self.negated for item in value)
        if self._mode == _ANY:
            return any(test(item, context) != self.negated for item in value)
        return any(test(item, context) for item in value) != self.negated


@dataclass(frozen=True, slots=True)
class ConditionBlock:
    """A whole Condition element: true when every condition holds."""

    conditions: tuple[Condition, ...]

    def holds(self, context: Context, *, deny: bool = False) -> bool:
        """``deny``: the statement is a Deny, so ambiguity (see :class:`Ambiguous`) must make it apply."""
        try:
            for condition in self.conditions:
                if not condition.holds(context, deny=deny):
                    return False
        except VariableAmbiguous:
            return deny
        except VariableUnresolved:
            return False
        return True


def _split_operator(name: str) -> tuple[str, int, bool]:
    base, mode = name, _PLAIN
    if ":" in name:
        prefix, base = name.split(":", 1)
        modes = {"foranyvalue": _ANY, "forallvalues": _ALL}
        if prefix.lower() not in modes:
            raise _malformed(f"Condition operator {name} has an unknown set prefix {prefix!r}.")
        mode = modes[prefix.lower()]
    if_exists = base.lower().endswith("ifexists")
    if if_exists:
        base = base[: -len("IfExists")]
    return base.lower(), mode, if_exists


def _values(raw: object, where: str) -> list[PolicyScalar]:
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if not isinstance(item, _SCALARS):
            raise _malformed(f"{where} must be a string, number, boolean or a list of them.")
    return items  # type: ignore[return-value]


def compile_conditions(raw: object, *, variables: bool) -> ConditionBlock | None:
    """Compile a statement's ``Condition`` element; ``None`` when it is empty. ``variables`` is true for
    Version 2012-10-17 policies. Raises ``MalformedPolicyDocumentException``."""
    if not isinstance(raw, dict):
        raise _malformed("Condition must be a JSON object of condition operators.")
    out: list[Condition] = []
    for name, keys in raw.items():
        base, mode, if_exists = _split_operator(name)
        if base == "null":
            if if_exists or mode != _PLAIN:
                raise _malformed(f"Condition operator {name} is not supported: Null takes no qualifier.")
            family, negated, takes_variables = None, False, False
        elif base in _OPERATORS:
            family, negated, takes_variables = _OPERATORS[base]
        else:
            raise _malformed(f"Condition operator {name} is not supported.")
        if not isinstance(keys, dict) or not keys:
            raise _malformed(f"Condition operator {name} must map condition keys to values.")
        for key, raw_values in keys.items():
            if not key:
                raise _malformed(f"Condition operator {name} has an empty condition key.")
            values = _values(raw_values, f"The value of {name} {key}")
            null = frozenset(_parsed(values, _boolean, "boolean", name)) if family is None else frozenset()
            test = None if family is None else family(values, variables and takes_variables, name)
            set_operator = {_PLAIN: None, _ANY: "ForAnyValue", _ALL: "ForAllValues"}[mode]
            out.append(Condition(name, key, negated, if_exists, set_operator, key.lower(), mode, test, null))
    return ConditionBlock(tuple(out)) if out else None
