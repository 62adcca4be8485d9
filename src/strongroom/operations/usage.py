"""GetKeyLastUsage, answered from the audit trail: the last successful cryptographic operation with a key.

``TrackingStartDate`` is when the trail began or when the key was created, whichever is later; the
trail records every answered request, so a key used since then has a ``KeyLastUsage``.
"""

from __future__ import annotations

from typing import Any

from strongroom.errors import UnsupportedOperationException
from strongroom.operations.authz import authorize_key
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import GetKeyLastUsageRequest

__all__ = ["DECLARATIONS", "get_key_last_usage"]


def get_key_last_usage(ctx: RequestContext, svc: Services, params: GetKeyLastUsageRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "GetKeyLastUsage", identifier=params["KeyId"])
    if svc.key_usage is None:
        raise UnsupportedOperationException("GetKeyLastUsage needs the audit trail, which is turned off.")
    tracking_start = svc.key_usage.tracking_start()
    result: dict[str, Any] = {
        "KeyId": key.key_id,
        "TrackingStartDate": max(tracking_start or key.creation_date, key.creation_date),
        "KeyCreationDate": key.creation_date,
    }
    usage = svc.key_usage.lookup(key.arn)
    if usage is not None:
        result["KeyLastUsage"] = {
            "Operation": usage.operation,
            "Timestamp": usage.timestamp,
            "CloudTrailEventId": usage.event_id,
            "KmsRequestId": usage.request_id,
        }
    return result


DECLARATIONS = (Operation("GetKeyLastUsage", get_key_last_usage, Access.READ),)
