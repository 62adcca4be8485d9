"""Key identifiers: parsing the four forms AWS accepts, and building ARNs.

A caller may name a KMS key by key id (``1234abcd-...`` or ``mrk-<32 hex>``), key ARN, alias name
(``alias/x``) or alias ARN. :func:`parse_key_identifier` checks the syntax only; resolving to a key
(and the errors for unknown keys, other regions and aliases on key-only operations) is the key
repository's job. Messages follow AWS KMS (digest section 2.3).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import Enum

from strongroom.errors import NotFoundException

__all__ = [
    "KeyRef",
    "RefKind",
    "alias_arn",
    "is_key_id",
    "key_arn",
    "new_key_id",
    "parse_key_identifier",
    "partition_for",
    "root_principal",
]

_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}")


class RefKind(Enum):
    KEY = "key"
    ALIAS = "alias"


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A parsed key identifier. ``account``/``region`` are set only for the ARN forms."""

    kind: RefKind
    name: str  # the key id, or the alias name with its "alias/" prefix
    account: str | None
    region: str | None
    raw: str

    @property
    def is_arn(self) -> bool:
        return self.region is not None


def is_key_id(text: str) -> bool:
    return _KEY_ID.fullmatch(text) is not None


def new_key_id(multi_region: bool = False) -> str:
    if multi_region:
        return "mrk-" + uuid.uuid4().hex
    return str(uuid.uuid4())


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("eusc-"):
        return "aws-eusc"
    return "aws"


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:{partition_for(region)}:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    return f"arn:{partition_for(region)}:kms:{region}:{account}:{alias_name}"


def root_principal(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def parse_key_identifier(raw: str) -> KeyRef:
    """Parse any of the four identifier forms; raise NotFoundException with AWS's wording if malformed."""
    if raw.startswith("alias/"):
        return KeyRef(RefKind.ALIAS, raw, None, None, raw)
    if raw.startswith("arn:"):
        return _parse_arn(raw)
    if is_key_id(raw):
        return KeyRef(RefKind.KEY, raw, None, None, raw)
    raise NotFoundException(f"Invalid keyId '{raw}'")


def _parse_arn(raw: str) -> KeyRef:
    parts = raw.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms" or not parts[3] or not parts[4]:
        raise NotFoundException(f"Invalid arn {raw}")
    _, _, _, region, account, resource = parts
    if resource.startswith("key/"):
        key_id = resource[4:]
        if not is_key_id(key_id):
            raise NotFoundException(f"Invalid keyId {key_id}")
        return KeyRef(RefKind.KEY, key_id, account, region, raw)
    if resource.startswith("alias/") and len(resource) > len("alias/"):
        return KeyRef(RefKind.ALIAS, resource, account, region, raw)
    raise NotFoundException(f"Invalid arn {raw}")
