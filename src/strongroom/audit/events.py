"""One audit record per request, in CloudTrail's event shape for KMS.

What a record holds (and never holds):

- ``requestParameters`` are the request's members in camelCase, as CloudTrail logs them: ``keyId`` as the
  caller sent it, ``keySpec`` or ``numberOfBytes``, ``encryptionContext`` (not secret: KMS logs it),
  ``encryptionAlgorithm`` (always on Decrypt, as AWS logs it). Plaintext, ciphertext, messages, MACs,
  signatures, public keys and attestation documents are left out, and a grant token is logged only as
  ``sha256:`` and the first 16 hex digits of its hash, never in full.
- ``responseElements`` is null for cryptographic, read-only and failed calls, as in CloudTrail; for other
  successful management calls it is the response in camelCase, without grant tokens or key material.
- ``additionalEventData.keyMaterialId`` when the call used a key material version.
- ``resources`` are the KMS keys the call resolved (``AWS::KMS::Key``), even when it then failed.
- ``errorCode`` and ``errorMessage`` for a failed call.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from strongroom.clock import CounterIds

__all__ = [
    "CRYPTOGRAPHIC_OPERATIONS",
    "READ_ONLY_OPERATIONS",
    "AuditedCall",
    "build_event",
    "is_read_only",
]

EVENT_VERSION: Final = "1.11"
EVENT_SOURCE: Final = "kms.amazonaws.com"
KEY_RESOURCE_TYPE: Final = "AWS::KMS::Key"

# The operations GetKeyLastUsage counts (its KeyLastUsageTrackingOperation enum); ReEncrypt is logged as
# one event and counts for both its keys.
CRYPTOGRAPHIC_OPERATIONS: Final = frozenset(
    {
        "Decrypt",
        "DeriveSharedSecret",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)
READ_ONLY_OPERATIONS: Final = CRYPTOGRAPHIC_OPERATIONS | frozenset(
    {"GenerateRandom", "GetPublicKey", "GetKeyLastUsage"}
)
_READ_PREFIXES: Final = ("Describe", "Get", "List")

_SECRET_MEMBERS: Final = frozenset(
    {
        "Plaintext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "PrivateKeyPlaintext",
        "PrivateKeyCiphertextBlob",
        "Message",
        "Mac",
        "Signature",
        "SharedSecret",
        "PublicKey",
        "Recipient",
        "EncryptedKeyMaterial",
        "ImportToken",
        "GrantToken",
    }
)


_EVENT_IDS = CounterIds()
_last_second: list[Any] = [None, ""]


def _event_time(when: float) -> str:
    second = int(when)
    if _last_second[0] != second:
        _last_second[0], _last_second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    return str(_last_second[1])


def is_read_only(operation: str) -> bool:
    return operation in READ_ONLY_OPERATIONS or operation.startswith(_READ_PREFIXES)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _grant_token_digest(token: object) -> str:
    return "sha256:" + hashlib.sha256(str(token).encode("utf-8", "replace")).hexdigest()[:16]


def _camel_members(value: Any, *, verbatim: bool = False) -> Any:
    """Structure members in camelCase, recursively; the pairs of an encryption context stay as they are."""
    if type(value) is dict and not verbatim:  # the common case, a JSON object: no Mapping dispatch
        out: dict[str, Any] = {}
        for name, member in value.items():
            if name in _SECRET_MEMBERS:
                continue
            if type(member) is str or type(member) is int or type(member) is bool:
                out[name[:1].lower() + name[1:]] = member
            elif name == "GrantTokens" and isinstance(member, list):
                out["grantTokens"] = [_grant_token_digest(token) for token in member]
            else:
                out[name[:1].lower() + name[1:]] = _camel_members(
                    member, verbatim="EncryptionContext" in name
                )
        return out
    if isinstance(value, Mapping):
        if verbatim:
            return {str(k): v for k, v in value.items()}
        out = {}
        for name, member in value.items():
            name = str(name)
            if name in _SECRET_MEMBERS:
                continue
            if name == "GrantTokens" and isinstance(member, list):
                out["grantTokens"] = [_grant_token_digest(token) for token in member]
                continue
            out[_camel(name)] = _camel_members(member, verbatim="EncryptionContext" in name)
        return out
    if isinstance(value, list):
        return [_camel_members(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return None  # a blob member we do not know: never logged
    return value


@dataclass(slots=True)
class AuditedCall:
    """What the protocol edge learned about one request, filled in as it goes."""

    request_id: str
    started: float
    source_ip: str = ""
    user_agent: str = ""
    operation: str = ""
    region: str = ""
    access_key_id: str = ""
    account_id: str = ""
    principal_arn: str = ""
    parameters: Mapping[str, Any] | None = None
    key_arns: list[str] = field(default_factory=list)  # resolved by the handler (operations.authz)


def _user_identity(call: AuditedCall) -> dict[str, Any]:
    if not call.principal_arn:
        identity: dict[str, Any] = {"type": "Unknown"}
        if call.access_key_id:
            identity["accessKeyId"] = call.access_key_id
        return identity
    resource = call.principal_arn.split(":", 5)[-1]
    if resource == "root":
        kind, name = "Root", None
    elif resource.startswith("user/"):
        kind, name = "IAMUser", resource.rsplit("/", 1)[-1]
    else:
        kind, name = "AssumedRole", None  # a role's access key signs as the role itself
    identity = {
        "type": kind,
        "principalId": call.account_id if kind == "Root" else call.principal_arn,
        "arn": call.principal_arn,
        "accountId": call.account_id,
        "accessKeyId": call.access_key_id,
    }
    if name is not None:
        identity["userName"] = name
    return identity


def _resources(call: AuditedCall, response: Mapping[str, Any] | None) -> list[dict[str, str]]:
    arns = list(dict.fromkeys(call.key_arns))
    created = (response or {}).get("KeyMetadata", {}).get("Arn") if call.operation == "CreateKey" else None
    if created and created not in arns:
        arns.append(created)
    return [{"accountId": arn.split(":")[4], "type": KEY_RESOURCE_TYPE, "ARN": arn} for arn in arns]


def build_event(
    call: AuditedCall,
    response: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The CloudTrail-shaped event for one answered request."""
    read_only = is_read_only(call.operation)
    parameters = _camel_members(call.parameters) if call.parameters is not None else None
    if call.operation == "Decrypt" and parameters is not None and error_code is None:
        parameters.setdefault("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
    event: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": _user_identity(call),
        "eventTime": _event_time(call.started),
        "eventSource": EVENT_SOURCE,
        "eventName": call.operation or "Unknown",
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if error_code is not None:
        event["errorCode"] = error_code
        if error_message:
            event["errorMessage"] = error_message
    event["requestParameters"] = parameters
    succeeded_change = error_code is None and not read_only and response is not None
    event["responseElements"] = _camel_members(response) if succeeded_change else None
    material = (response or {}).get("KeyMaterialId") if error_code is None else None
    if material:
        event["additionalEventData"] = {"keyMaterialId": material}
    event["requestID"] = call.request_id
    event["eventID"] = event_id or _EVENT_IDS.next()
    event["readOnly"] = read_only
    resources = _resources(call, response)
    if resources:
        event["resources"] = resources
    event["eventType"] = "AwsApiCall"
    event["managementEvent"] = True
    event["recipientAccountId"] = resources[0]["accountId"] if resources else call.account_id
    event["eventCategory"] = "Management"
    return event


def encode_event(event: Mapping[str, Any]) -> bytes:
    return orjson.dumps(event)
