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

Every record is bounded, whatever the request held, so that one client's input can neither fail its own
record nor hold up anyone else's: members the operation does not have are dropped at the edge,
structures deeper than :data:`MAX_DEPTH` are cut, ``userAgent`` and ``errorMessage`` are truncated to
:data:`MAX_TEXT_CHARS` characters, and ``requestParameters`` or ``responseElements`` larger than
:data:`MAX_ELEMENT_BYTES` serialized are replaced by null. As CloudTrail does, a record from which
something was cut carries ``"omitted": true``. Text that is not valid Unicode (a lone surrogate) is
escaped rather than refused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from strongroom.clock import CounterIds

__all__ = [
    "MAX_DEPTH",
    "MAX_ELEMENT_BYTES",
    "MAX_SUMMARY_BYTES",
    "MAX_TEXT_CHARS",
    "AuditedCall",
    "ServiceEvent",
    "build_event",
    "event_from_summary",
    "summarize",
    "summarize_service_event",
    "unreadable_event",
]

EVENT_VERSION: Final = "1.11"
EVENT_SOURCE: Final = "kms.amazonaws.com"
KEY_RESOURCE_TYPE: Final = "AWS::KMS::Key"

#: The floor: member names no record ever holds, whatever the operation. The edge adds each operation's
#: own (``AuditedCall.secret_members``: the model's blobs and sensitive members, and what the operation's
#: declaration adds), so a new operation's secrets need no entry here.
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
        "SharedSecretCiphertextBlob",  # Encapsulate, Decapsulate
        "PublicKey",
        "Recipient",
        "EncryptedKeyMaterial",
        "ImportToken",
        "GrantToken",
        "XksProxyAuthenticationCredential",  # an external key store proxy's credential, whole
    }
)


#: CloudTrail's limits: 100 KB for requestParameters and responseElements, 1 KB for userAgent and
#: errorMessage (beyond them it cuts the field and marks the event ``"omitted": true``).
MAX_ELEMENT_BYTES: Final = 100 * 1024
MAX_TEXT_CHARS: Final = 1024
#: No KMS shape nests deeper than a few levels; anything deeper is cut here.
MAX_DEPTH: Final = 16
#: What a summary can reach with the limits above; a larger one is replaced by a minimal one.
MAX_SUMMARY_BYTES: Final = 3 * MAX_ELEMENT_BYTES

_EVENT_IDS = CounterIds()
_last_second: list[Any] = [None, ""]


def _event_time(when: float) -> str:
    second = int(when)
    if _last_second[0] != second:
        _last_second[0], _last_second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    return str(_last_second[1])


def _grant_token_digest(token: object) -> str:
    return "sha256:" + hashlib.sha256(str(token).encode("utf-8", "replace")).hexdigest()[:16]


def _redacted(value: Any, secrets: frozenset[str] = _SECRET_MEMBERS, depth: int = 0) -> Any:
    """A request or response structure with its ``secrets`` members left out and grant tokens replaced
    by their digests; member names stay as they are, and an encryption context is kept verbatim. Below
    :data:`MAX_DEPTH` levels a structure becomes null."""
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list):
        return None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for name, member in value.items():
            name = str(name)
            if name in secrets:
                continue
            kind = type(member)
            if kind is str or kind is int or kind is bool:  # the common case first
                out[name] = member
            elif name == "GrantTokens" and kind is list:
                out[name] = [_grant_token_digest(token) for token in member]
            elif "EncryptionContext" in name and isinstance(member, Mapping):
                out[name] = {
                    str(k): v if type(v) is str else _redacted(v, secrets, depth + 2)
                    for k, v in member.items()
                }
            else:
                out[name] = _redacted(member, secrets, depth + 1)
        return out
    if isinstance(value, list):
        return [_redacted(item, secrets, depth + 1) for item in value]
    if isinstance(value, bytes | bytearray):
        return None  # a blob member we do not know: never logged
    return value


def _camel_members(value: Any) -> Any:
    """Member names in camelCase, recursively, as CloudTrail logs them; an encryption context's pairs
    stay as they are."""
    if type(value) is dict:
        return {
            name[:1].lower() + name[1:]: (
                member if "EncryptionContext" in name or type(member) is str else _camel_members(member)
            )
            for name, member in value.items()
        }
    if type(value) is list:
        return [_camel_members(item) for item in value]
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
    #: The size of the request body the parameters came from: a bound on their serialized size, so
    #: only a large body costs a measurement.
    body_bytes: int = 0
    #: Whether the call changes nothing (its operation's declaration; the edge sets it).
    read_only: bool = False
    #: Members of this operation's request and response never to be recorded, beyond those no record
    #: ever holds (the edge sets them from the model and the operation's declaration).
    secret_members: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """Something Strongroom did by itself, with no request behind it (an automatic key rotation): in
    CloudTrail an ``AwsServiceEvent``, invoked by "AWS Internal", with ``serviceEventDetails`` and no
    request id, parameters or response."""

    name: str
    when: float
    region: str
    account_id: str
    key_arn: str
    details: Mapping[str, Any]


#: Who CloudTrail says caused a service event; kept as AWS writes it, so that tools reading CloudTrail
#: recognise the event.
_SERVICE: Final = "AWS Internal"


def summarize_service_event(event: ServiceEvent) -> bytes:
    """A service event's summary: a request summary's fields (no request, no caller) and its details
    as a seventeenth field, which :func:`event_from_summary` tells apart."""
    fields = [
        "", event.when, "", "", event.name, event.region, "", event.account_id, "", None,
        [event.key_arn], None, None, None, False, False, dict(event.details),
    ]  # fmt: skip
    return orjson.dumps(_printable(fields))


def _service_event(call: AuditedCall, details: Mapping[str, Any], event_id: str | None) -> dict[str, Any]:
    resources = _resources(call, None)
    return {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": call.account_id, "invokedBy": _SERVICE},
        "eventTime": _event_time(call.started),
        "eventSource": EVENT_SOURCE,
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": _SERVICE,
        "userAgent": _SERVICE,
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id or _EVENT_IDS.next(),
        "readOnly": False,
        "resources": resources,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": call.account_id,
        "serviceEventDetails": dict(details),
        "eventCategory": "Management",
    }


def _user_identity(call: AuditedCall) -> dict[str, Any]:
    return _identity(call.principal_arn, call.account_id, call.access_key_id)


@functools.lru_cache(maxsize=1024)
def _identity(principal_arn: str, account_id: str, access_key_id: str) -> dict[str, Any]:
    """The userIdentity of a caller (cached: a few callers make most requests; the dict is shared, so
    it is never changed after this)."""
    if not principal_arn:
        identity: dict[str, Any] = {"type": "Unknown"}
        if access_key_id:
            identity["accessKeyId"] = access_key_id
        return identity
    resource = principal_arn.split(":", 5)[-1]
    if resource == "root":
        kind, name = "Root", None
    elif resource.startswith("user/"):
        kind, name = "IAMUser", resource.rsplit("/", 1)[-1]
    else:
        kind, name = "AssumedRole", None  # a role's access key signs as the role itself
    identity = {
        "type": kind,
        "principalId": account_id if kind == "Root" else principal_arn,
        "arn": principal_arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }
    if name is not None:
        identity["userName"] = name
    return identity


def _resources(call: AuditedCall, response: Mapping[str, Any] | None) -> list[dict[str, str]]:
    arns = list(dict.fromkeys(call.key_arns))
    created = (response or {}).get("KeyMetadata", {}).get("Arn") if call.operation == "CreateKey" else None
    if created and created not in arns:
        arns.append(created)
    return [_resource(arn) for arn in arns]


@functools.lru_cache(maxsize=4096)
def _resource(arn: str) -> dict[str, str]:
    """One ``resources`` entry (cached, and so never changed after this)."""
    return {"accountId": arn.split(":")[4], "type": KEY_RESOURCE_TYPE, "ARN": arn}


def summarize(
    call: AuditedCall,
    response: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
) -> bytes:
    """What a worker sends for one answered request: the call's facts, already without secrets, and
    bounded (see the module docstring); it never fails, and is at most :data:`MAX_SUMMARY_BYTES`.

    It is cheap on purpose (the request waits for it): the CloudTrail shape is built later, by the
    writer, with :func:`event_from_summary`. Only the parts of the response a record uses are kept: the
    whole (redacted) response of a successful change, otherwise just its key material id."""
    secrets = _SECRET_MEMBERS | call.secret_members if call.secret_members else _SECRET_MEMBERS
    kept: Mapping[str, Any] | None = None
    if response is not None and error_code is None:
        if not call.read_only:
            kept = _redacted(response, secrets)
        elif response.get("KeyMaterialId"):
            kept = {"KeyMaterialId": response["KeyMaterialId"]}
    omitted = False
    parameters = _redacted(call.parameters, secrets) if call.parameters is not None else None
    if parameters is not None and call.body_bytes > MAX_ELEMENT_BYTES and _too_large(parameters):
        parameters, omitted = None, True
    user_agent = call.user_agent
    if len(user_agent) > MAX_TEXT_CHARS:
        user_agent, omitted = user_agent[:MAX_TEXT_CHARS], True
    if error_message is not None and len(error_message) > MAX_TEXT_CHARS:
        error_message, omitted = error_message[:MAX_TEXT_CHARS], True
    fields = [
        call.request_id,
        call.started,
        call.source_ip,
        user_agent,
        call.operation,
        call.region,
        call.access_key_id,
        call.account_id,
        call.principal_arn,
        parameters,
        call.key_arns,
        kept,
        error_code,
        error_message,
        omitted,
        call.read_only,
    ]
    try:
        summary = orjson.dumps(fields)
    except (TypeError, ValueError):  # text that is not valid Unicode (a lone surrogate), or a stray type
        summary = orjson.dumps(_printable(fields))
    if len(summary) <= MAX_SUMMARY_BYTES:
        return summary
    fields[9], fields[11], fields[14] = None, None, True  # responses are bounded too; this is a backstop
    return orjson.dumps(_printable(fields))


def _too_large(element: Any) -> bool:
    try:
        return len(orjson.dumps(element)) > MAX_ELEMENT_BYTES
    except (TypeError, ValueError):
        return len(orjson.dumps(_printable(element))) > MAX_ELEMENT_BYTES


def _printable(value: Any) -> Any:
    """``value`` with every string made valid UTF-8 (lone surrogates escaped as ``\\udfff``) and
    anything that is not JSON turned into null."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, Mapping):
        return {_printable(str(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return None


def event_from_summary(summary: bytes, event_id: str | None = None) -> bytes:
    """The CloudTrail-shaped event JSON for a request, from its :func:`summarize` bytes; ValueError if
    they are not a summary."""
    try:
        fields = orjson.loads(summary)
        details = fields.pop() if isinstance(fields, list) and len(fields) == 17 else None
        (request_id, started, source_ip, user_agent, operation, region, access_key_id, account_id,
         principal_arn, parameters, key_arns, response, error_code, error_message,
         omitted, read_only) = fields  # fmt: skip
        call = AuditedCall(
            request_id, started, source_ip, user_agent, operation, region, access_key_id, account_id,
            principal_arn, parameters, key_arns, read_only=bool(read_only),
        )  # fmt: skip
        if isinstance(details, dict):
            return orjson.dumps(_service_event(call, details, event_id))
        event = _shape(call, response, error_code, error_message, event_id)
        if omitted:
            event["omitted"] = True
        return orjson.dumps(event)
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not an audit summary: {error}") from None


def unreadable_event(summary: bytes, event_id: str | None = None) -> bytes:
    """The event recorded for bytes that are not a summary (which a worker never sends): the request
    still gets a record, with what could be read of it, and no other request is failed for it."""
    fields: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        fields = orjson.loads(summary)
    texts = fields if isinstance(fields, list) and len(fields) > 4 else []

    def text(index: int) -> str:
        value = texts[index] if index < len(texts) else ""
        return value[:MAX_TEXT_CHARS] if isinstance(value, str) else ""

    call = AuditedCall(text(0) or "unknown", time.time(), text(2), text(3), text(4))
    event = _shape(call, None, "KMSInternalException", "The audit record was unreadable.", event_id)
    event["omitted"] = True
    return orjson.dumps(_printable(event))


def build_event(
    call: AuditedCall,
    response: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The CloudTrail-shaped event for one answered request, as the trail will hold it."""
    event: dict[str, Any] = orjson.loads(
        event_from_summary(summarize(call, response, error_code, error_message), event_id)
    )
    return event


def _shape(
    call: AuditedCall,
    response: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
    event_id: str | None,
) -> dict[str, Any]:
    read_only = call.read_only
    parameters = _camel_members(call.parameters) if call.parameters is not None else None
    if call.operation == "Decrypt" and isinstance(parameters, dict) and error_code is None:
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
