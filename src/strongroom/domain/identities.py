"""IAM identities: users and roles of an account, with their principal ARNs and ids.

The account root (``arn:aws:iam::<account>:root``) is the installation's admin identity and has no
record; users and roles are created with ``strongroom iam ...``.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["IamPrincipal", "PrincipalKind", "new_principal_id", "principal_arn", "validate_iam_name"]

_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_ID_ALPHABET = string.ascii_uppercase + string.digits


class PrincipalKind(StrEnum):
    USER = "user"
    ROLE = "role"

    @property
    def id_prefix(self) -> str:
        return "AIDA" if self is PrincipalKind.USER else "AROA"


@dataclass(frozen=True, slots=True)
class IamPrincipal:
    account_id: str
    kind: PrincipalKind
    name: str
    path: str
    arn: str
    principal_id: str
    created: float


def principal_arn(account_id: str, kind: PrincipalKind, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account_id}:{kind.value}{path}{name}"


def new_principal_id(kind: PrincipalKind) -> str:
    return kind.id_prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def validate_iam_name(name: str) -> bool:
    """IAM user and role names: 1..64 of letters, digits and ``+=,.@_-``."""
    return _NAME.fullmatch(name) is not None
