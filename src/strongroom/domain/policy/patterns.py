"""Wildcard patterns and policy variables, compiled once and shared by statements and conditions.

Why this exists
---------------
Every request is authorized by matching its action, resource and condition values against the patterns a
policy holds (``kms:Generate*``, ``arn:aws:kms:*:111122223333:key/*``, ``${aws:username}-*``). Policies
change rarely and are evaluated on every request, so each pattern is turned into the cheapest test that
decides it, once, when the policy is parsed: ``*`` becomes a flag, a literal becomes a set member, ``kms:*``
becomes a ``str.startswith`` prefix, and only the rest becomes one ``re.Pattern`` (all such patterns of one
element joined into a single alternation).

Wildcards (IAM "Resource" and "Condition operators" pages): ``*`` matches any run of characters (also
none) and ``?`` exactly one. In Action and Resource elements and in ``StringLike`` they cross every
character, colons included. ARN operators (``ArnLike``, ``ArnEquals``, ...) check the six colon-separated
ARN components separately: in the first five a wildcard never crosses a colon; the sixth component (the
resource part, which may itself hold colons) is the rest of the string.

Policy variables (IAM "Variables and tags" page), only in policies of Version ``2012-10-17``: ``${key}`` is
replaced by the single value of the request context key ``key`` (case-insensitive name), ``${key, 'text'}``
supplies a default (``''`` inside the quotes is one quote), and ``${*}``, ``${?}``, ``${$}`` stand for the
literal characters. A substituted value is always literal: a ``*`` in a user name is no wildcard. A
variable whose key is absent, ``None`` or multi-valued and has no default raises :class:`VariableUnresolved`,
which makes the whole statement inapplicable (the IAM guide: "any attempt to match it fails and causes the
statement to be invalid"). A variable whose key is :class:`Ambiguous` (names differing only in case) raises
:class:`VariableAmbiguous` even when it has a default: the caller then decides conservatively. A ``${`` that
does not form a well-shaped variable is kept as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = [
    "Ambiguous",
    "Context",
    "ContextValue",
    "PatternSet",
    "Template",
    "VariableAmbiguous",
    "VariableUnresolved",
    "scalar_text",
    "wildcard_regex",
]

ContextValue: TypeAlias = str | Sequence[str] | bool | int | float | None


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """The values of request context keys whose names differ only in case (``kms:EncryptionContext:tenant``
    and ``kms:EncryptionContext:Tenant``: encryption context and tag keys are case-sensitive, condition key
    names are not). Which one a condition key "means" is undecidable, so the policy is evaluated so that
    the answer holds whichever one it means (see ``conditions``). ``values`` are in sorted-name order."""

    values: tuple[ContextValue, ...]


#: A request context whose key names are already lower-cased (see ``AuthorizationRequest``).
Context: TypeAlias = Mapping[str, "ContextValue | Ambiguous"]


class VariableUnresolved(Exception):
    """Internal signal: a policy variable has no single value, so the statement does not apply."""


class VariableAmbiguous(VariableUnresolved):
    """Internal signal: a policy variable names an :class:`Ambiguous` key. The caller must decide
    conservatively: an Allow statement does not apply, a Deny statement does."""


def scalar_text(value: object) -> str | None:
    """The string form of a single request value (``True`` -> ``"true"``); ``None`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


# -- policy variables ------------------------------------------------------------------------------------
_VARIABLE: Final = re.compile(r"\$\{([^{}]*)\}")
_VARIABLE_BODY: Final = re.compile(r"\s*([^\s,'{}$]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_ESCAPES: Final = {"*": "*", "?": "?", "$": "$"}

# A chunk of a rendered pattern: (text, wildcards_active). Policy text keeps its wildcards; substituted
# values and ${*}-style escapes are literal.
Chunk: TypeAlias = tuple[str, bool]


class Template:
    """A policy string split into literal text, escapes and ``${key}`` variables."""

    __slots__ = ("_parts", "has_variables")

    def __init__(self, text: str, *, variables: bool) -> None:
        # parts: (kind, text, default): kind 0 = policy text, 1 = fixed literal, 2 = variable (text = key).
        parts: list[tuple[int, str, str | None]] = []
        position = 0
        for found in _VARIABLE.finditer(text) if variables else ():
            body = found.group(1)
            escape = _ESCAPES.get(body)
            shaped = None if escape is not None else _VARIABLE_BODY.fullmatch(body)
            if escape is None and shaped is None:
                continue  # not a variable: stays part of the surrounding literal text
            if found.start() > position:
                parts.append((0, text[position : found.start()], None))
            if escape is not None:
                parts.append((1, escape, None))
            elif shaped is not None:
                default = shaped.group(2)
                parts.append(
                    (2, shaped.group(1).lower(), None if default is None else default.replace("''", "'"))
                )
            position = found.end()
        if position < len(text) or not parts:
            parts.append((0, text[position:], None))
        self._parts: Final = tuple(parts)
        self.has_variables: Final = any(kind == 2 for kind, _, _ in parts)

    def chunks(self, context: Context | None) -> list[Chunk]:
        """The pattern with every variable replaced; raises :class:`VariableUnresolved`."""
        out: list[Chunk] = []
        for kind, text, default in self._parts:
            if kind == 0:
                out.append((text, True))
            elif kind == 1:
                out.append((text, False))
            else:
                found = context.get(text) if context is not None else None
                if type(found) is Ambiguous:
                    raise VariableAmbiguous(text)
                value = scalar_text(found)
                if value is None:
                    if default is None:
                        raise VariableUnresolved(text)
                    value = default
                out.append((value, False))
        return out

    def render(self, context: Context | None) -> str:
        """The literal string the template stands for (wildcard characters are left as they are)."""
        return "".join(text for text, _ in self.chunks(context))


# -- wildcards -------------------------------------------------------------------------------------------
def wildcard_regex(chunks: Iterable[Chunk], *, arn: bool = False) -> str:
    """Regex source (for ``fullmatch``) of a wildcard pattern; ``arn`` keeps wildcards inside a component."""
    out: list[str] = []
    colons = 0
    for text, wild in chunks:
        for char in text:
            bounded = arn and colons < 5
            if wild and char == "*":
                out.append("[^:]*" if bounded else ".*")
            elif wild and char == "?":
                out.append("[^:]" if bounded else ".")
            else:
                out.append(re.escape(char))
            if char == ":":
                colons += 1
    return "".join(out)


def _is_wild(text: str) -> bool:
    return "*" in text or "?" in text


class PatternSet:
    """The patterns of one Action/NotAction/Resource/NotResource element, compiled for one question:
    does a value match any of them?

    ``fold_case`` (actions) compares case-insensitively: patterns are lower-cased here and the caller passes
    a lower-cased value. Resource patterns that hold policy variables are kept as templates and matched by
    :meth:`matches_templates`, which needs the request context.
    """

    __slots__ = ("any", "exact", "prefixes", "regex", "templates")

    def __init__(self, patterns: Sequence[str], *, fold_case: bool, variables: bool) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        sources: list[str] = []
        templates: list[Template] = []
        self.any = False
        for raw in patterns:
            pattern = raw.lower() if fold_case else raw
            template = Template(pattern, variables=variables)
            if template.has_variables:
                templates.append(template)
                continue
            chunks = template.chunks(None)
            if chunks == [("*", True)]:
                self.any = True
            elif all(not _is_wild(text) for text, wild in chunks if wild):
                exact.add("".join(text for text, _ in chunks))
            elif len(chunks) == 1 and pattern.endswith("*") and not _is_wild(pattern[:-1]):
                prefixes.append(pattern[:-1])
            else:
                sources.append(wildcard_regex(chunks))
        self.exact: Final = frozenset(exact)
        self.prefixes: Final = tuple(prefixes)
        self.regex: Final = re.compile("|".join(f"(?:{s})" for s in sources), re.DOTALL) if sources else None
        self.templates: Final = tuple(templates)

    def matches(self, value: str) -> bool:
        """Whether ``value`` matches a pattern that holds no policy variable."""
        return (
            self.any
            or value in self.exact
            or (bool(self.prefixes) and value.startswith(self.prefixes))
            or (self.regex is not None and self.regex.fullmatch(value) is not None)
        )

    def matches_templates(self, value: str, context: Context) -> bool:
        """Whether ``value`` matches a pattern with variables; raises :class:`VariableUnresolved`."""
        for template in self.templates:
            if re.fullmatch(wildcard_regex(template.chunks(context)), value, re.DOTALL):
                return True
        return False
