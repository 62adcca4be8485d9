"""Identities for authorization tests: IAM users and roles with policies, and boto3 clients signing as them.

They are created the way ``strongroom iam`` creates them (the same :func:`open_admin`, in this process, on the
running server's data dir), so the server picks them up through the change log, as it would in production.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.cli.iam import open_admin
from strongroom.domain.identities import PrincipalKind
from tests.conftest import ACCOUNT_ID, RunningServer, aws_error

__all__ = ["ALLOW_ALL", "Identity", "allow", "deny", "denied", "key_policy", "make_identity", "statement"]

ACCOUNT_B = "444455556666"
ALLOW_ALL: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
}
_names = itertools.count(1)


@dataclass(frozen=True)
class Identity:
    arn: str
    account_id: str
    name: str
    kind: PrincipalKind
    client: Any  # a boto3 KMS client signing as this identity


def statement(effect: str, action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return statement("Allow", action, resource, **extra)


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict:
    return statement("Deny", action, resource, **extra)


def policy(*statements: dict) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def key_policy(*statements: dict, admin_account: str = ACCOUNT_ID) -> str:
    """A key policy: the given statements, after one that keeps the account root in charge (so the test's
    admin can still manage the key, and the lockout check passes)."""
    root = {
        "Sid": "Admin",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{admin_account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps(policy(root, *statements))


def make_identity(
    server: RunningServer,
    *statements: dict,
    account_id: str = ACCOUNT_ID,
    kind: PrincipalKind = PrincipalKind.USER,
    name: str | None = None,
) -> Identity:
    """A new user (or role) with an access key and, if statements are given, one identity policy."""
    name = name or f"{kind.value}{next(_names)}"
    with open_admin(server.data_dir, account_id) as admin:
        principal = admin.create_principal(kind, name)
        access_key = admin.create_access_key(kind, name)
        if statements:
            admin.put_policy(kind, name, "test", json.dumps(policy(*statements)))
    client = server.client(access_key=access_key.access_key_id, secret_key=access_key.secret)
    return Identity(principal.arn, account_id, name, kind, client)


def set_identity_policy(server: RunningServer, who: Identity, *statements: dict) -> None:
    with open_admin(server.data_dir, who.account_id) as admin:
        admin.put_policy(who.kind, who.name, "test", json.dumps(policy(*statements)))


def denied(call: Callable[..., Any], **kwargs: Any) -> str:
    """The message of the AccessDeniedException (HTTP 400) that the call must get."""
    code, message, status = aws_error(call, **kwargs)
    assert (code, status) == ("AccessDeniedException", 400), message
    return message
