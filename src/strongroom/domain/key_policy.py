"""Key policies: the default document AWS KMS writes, and the limits that apply to any key policy."""

from __future__ import annotations

import json

__all__ = ["DEFAULT_POLICY_NAME", "MAX_KEY_POLICY_BYTES", "default_key_policy", "jackson_pretty"]

DEFAULT_POLICY_NAME = "default"
MAX_KEY_POLICY_BYTES = 32_768  # the key policy quota; going over is LimitExceededException


def default_key_policy(account_id: str) -> str:
    """The default key policy for keys created through the API, formatted as GetKeyPolicy returns it
    (Jackson's pretty printer: two-space indent, ``" : "``, ``[ {`` and ``} ]``; digest section 9)."""
    return jackson_pretty(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def jackson_pretty(value: object, indent: str = "") -> str:
    """Render JSON the way Jackson's default pretty printer does, which is how AWS KMS prints policies."""

    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = indent + "  "
        members = [f"{inner}{json.dumps(k)} : {jackson_pretty(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(members) + f"\n{indent}}}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson_pretty(item, indent) for item in value) + " ]"
    return json.dumps(value)
