"""Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
ListKeyRotations.

The rules are in :mod:`strongroom.domain.rotation`; automatic rotations are made by the scheduler
(:mod:`strongroom.service.rotation_scheduler`). Each handler checks in AWS's order: the key (id or ARN,
no alias), authorization, the kind of key (UnsupportedOperationException), then its state.
RotateKeyOnDemand completes before it answers, so ``OnDemandRotationStartDate`` (present only while an
asynchronous rotation runs in AWS) never appears.
"""

from __future__ import annotations

from typing import Any

from strongroom.domain.rotation import (
    RotationType,
    disable_rotation,
    enable_rotation,
    require_on_demand_quota,
    require_rotatable,
    status_enabled,
)
from strongroom.errors import ConflictException, InvalidMarkerException
from strongroom.operations.authz import authorize_key
from strongroom.operations.common import page, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import (
    DisableKeyRotationRequest,
    EnableKeyRotationRequest,
    GetKeyRotationStatusRequest,
    ListKeyRotationsRequest,
    RotateKeyOnDemandRequest,
)

__all__ = [
    "DECLARATIONS",
    "disable_key_rotation",
    "enable_key_rotation",
    "get_key_rotation_status",
    "list_key_rotations",
    "rotate_key_on_demand",
]

_ALL_KEY_MATERIAL = "ALL_KEY_MATERIAL"


def enable_key_rotation(ctx: RequestContext, svc: Services, params: EnableKeyRotationRequest) -> None:
    period = params.get("RotationPeriodInDays")  # 90..2560: the model's range, checked at the edge
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    extra = {"kms:RotationPeriodInDays": period} if period is not None else None
    authorize_key(ctx, svc, key, "EnableKeyRotation", extra=extra)
    require_rotatable(key)
    key.require_manageable()
    svc.keys.save(enable_rotation(key, svc.clock.now(), period))


def disable_key_rotation(ctx: RequestContext, svc: Services, params: DisableKeyRotationRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "DisableKeyRotation")
    require_rotatable(key)
    key.require_manageable()
    if key.rotation_enabled:
        svc.keys.save(disable_rotation(key))


def get_key_rotation_status(
    ctx: RequestContext, svc: Services, params: GetKeyRotationStatusRequest
) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "GetKeyRotationStatus")
    require_rotatable(key)
    key.require_not_pending_import()
    if not status_enabled(key):
        return {"KeyId": key.key_id, "KeyRotationEnabled": False}
    return {
        "KeyId": key.key_id,
        "KeyRotationEnabled": True,
        "RotationPeriodInDays": key.rotation_period_days,
        "NextRotationDate": key.next_rotation,
    }


def rotate_key_on_demand(
    ctx: RequestContext, svc: Services, params: RotateKeyOnDemandRequest
) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "RotateKeyOnDemand")
    require_rotatable(key)
    key.require_manageable()
    require_on_demand_quota(key)
    if svc.keys.rotate(key, RotationType.ON_DEMAND) is None:
        raise ConflictException(f"{key.arn} is being rotated by another request. Try again.")
    return {"KeyId": key.arn}


def list_key_rotations(ctx: RequestContext, svc: Services, params: ListKeyRotationsRequest) -> dict[str, Any]:
    limit = page_limit(params, default=100, maximum=1000)
    after = _marker_version(params.get("Marker"))
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "ListKeyRotations")
    require_rotatable(key)
    every_material = params.get("IncludeKeyMaterial") == _ALL_KEY_MATERIAL
    entries = []
    for rotation in svc.keys.rotations(key):
        if rotation.version <= after or (rotation.rotation_type is None and not every_material):
            continue
        entry: dict[str, Any] = {
            "KeyId": key.key_id,
            "KeyMaterialId": rotation.material_id,
            "KeyMaterialState": "CURRENT" if rotation.version == key.current_material else "NON_CURRENT",
        }
        if rotation.rotation_type is not None:
            entry["RotationDate"] = rotation.date
            entry["RotationType"] = rotation.rotation_type.value
        entries.append((rotation.version, entry))
    more = len(entries) > limit
    shown = entries[:limit]
    return page([e for _, e in shown], limit, "Rotations", str(shown[-1][0]) if more else None)


def _marker_version(marker: str | None) -> int:
    """Markers are the last listed material's version; anything else is InvalidMarkerException."""
    if marker is None:
        return 0
    if not marker.isdigit() or len(marker) > 9:
        raise InvalidMarkerException("Invalid marker")
    return int(marker)


DECLARATIONS = (
    Operation("EnableKeyRotation", enable_key_rotation, Access.CHANGE),
    Operation("DisableKeyRotation", disable_key_rotation, Access.CHANGE),
    Operation("GetKeyRotationStatus", get_key_rotation_status, Access.READ, cross_account=True),
    Operation("RotateKeyOnDemand", rotate_key_on_demand, Access.CHANGE),
    Operation("ListKeyRotations", list_key_rotations, Access.READ),
)
