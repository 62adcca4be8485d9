"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion,
UpdateKeyDescription."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.domain import ml_kem
from strongroom.domain.ids import is_key_id, new_key_id
from strongroom.domain.keys import (
    KeySpec,
    KeyUsage,
    KmsKey,
    Origin,
    implemented,
    not_implemented,
    validate_pending_window,
)
from strongroom.domain.ml_kem import ML_KEM_SPECS
from strongroom.domain.tags import validate_new_tags
from strongroom.errors import InvalidMarkerException, UnsupportedOperationException, ValidationException
from strongroom.operations.authz import authorize_account_action, authorize_key, tag_context
from strongroom.operations.common import page, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.custom_key_stores import no_such_store
from strongroom.operations.declaration import Access, GrantKeys, Operation
from strongroom.operations.policies import checked_key_policy
from strongroom.operations.requests import (
    CancelKeyDeletionRequest,
    CreateKeyRequest,
    DescribeKeyRequest,
    DisableKeyRequest,
    EnableKeyRequest,
    ListKeysRequest,
    ScheduleKeyDeletionRequest,
    UpdateKeyDescriptionRequest,
)
from strongroom.operations.shapes import key_metadata

__all__ = [
    "DECLARATIONS",
    "cancel_key_deletion",
    "create_key",
    "describe_key",
    "disable_key",
    "enable_key",
    "list_keys",
    "schedule_key_deletion",
    "update_key_description",
]

_USAGES_BY_SPEC: dict[KeySpec, tuple[KeyUsage, ...]] = {
    KeySpec.SYMMETRIC_DEFAULT: (KeyUsage.ENCRYPT_DECRYPT,),
    **{
        s: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY)
        for s in (KeySpec.RSA_2048, KeySpec.RSA_3072, KeySpec.RSA_4096)
    },
    **{
        s: (KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT)
        for s in (KeySpec.ECC_NIST_P256, KeySpec.ECC_NIST_P384, KeySpec.ECC_NIST_P521)
    },
    KeySpec.ECC_SECG_P256K1: (KeyUsage.SIGN_VERIFY,),
    KeySpec.ECC_NIST_EDWARDS25519: (KeyUsage.SIGN_VERIFY,),
    **{
        s: (KeyUsage.GENERATE_VERIFY_MAC,)
        for s in (KeySpec.HMAC_224, KeySpec.HMAC_256, KeySpec.HMAC_384, KeySpec.HMAC_512)
    },
    KeySpec.SM2: (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY, KeyUsage.KEY_AGREEMENT),
    **{s: (KeyUsage.SIGN_VERIFY,) for s in (KeySpec.ML_DSA_44, KeySpec.ML_DSA_65, KeySpec.ML_DSA_87)},
    **{s: (KeyUsage.ENCAPSULATE_DECAPSULATE,) for s in ML_KEM_SPECS},
}


def _spec_and_usage(params: Mapping[str, Any]) -> tuple[KeySpec, KeyUsage]:
    """The key spec and usage of a CreateKey. A spec or usage of the model that Strongroom does not know
    is UnsupportedOperationException, before the checks of the pair; so is a valid pair Strongroom
    cannot make (SM2 outside China, ML_KEM_512, ML-KEM without a library that has it), after them."""
    member = "KeySpec" if params.get("KeySpec") else "CustomerMasterKeySpec"
    spec_name = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    spec = implemented(KeySpec, spec_name, member)
    usage_name = params.get("KeyUsage")
    if usage_name is None:
        if spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise ValidationException(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
            )
        usage_name = KeyUsage.ENCRYPT_DECRYPT.value
    usage = implemented(KeyUsage, usage_name, "KeyUsage")
    if usage not in _USAGES_BY_SPEC[spec]:
        raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
    if spec is KeySpec.SM2:
        raise UnsupportedOperationException("KeySpec SM2 is not supported in this Region")
    if spec in ML_KEM_SPECS:
        ml_kem.require(spec)
    return spec, usage


def create_key(ctx: RequestContext, svc: Services, params: CreateKeyRequest) -> dict[str, Any]:
    spec, usage = _spec_and_usage(params)
    if params.get("CustomKeyStoreId") is not None:
        raise no_such_store(params["CustomKeyStoreId"])
    origin_name = params.get("Origin") or Origin.AWS_KMS.value
    if origin_name != Origin.AWS_KMS:  # EXTERNAL (imported material), custom key stores
        raise not_implemented("Origin", origin_name)
    origin = Origin.AWS_KMS
    if params.get("XksKeyId") is not None:
        raise UnsupportedOperationException("Custom key stores are not supported by Strongroom.")
    tags = [(t["TagKey"], t["TagValue"]) for t in params.get("Tags") or ()]
    validate_new_tags(tags)
    multi_region = bool(params.get("MultiRegion"))
    key = KmsKey(
        key_id=new_key_id(multi_region),
        account_id=ctx.principal.account_id,
        region=ctx.principal.region,
        creation_date=round(svc.clock.now(), 3),
        description=params.get("Description") or "",
        key_spec=spec,
        key_usage=usage,
        origin=origin,
        multi_region=multi_region,
        tags=tuple(tags),
    )
    authorize_account_action(
        ctx,
        svc,
        "CreateKey",
        extra={
            "kms:KeySpec": spec.value,
            "kms:KeyUsage": usage.value,
            "kms:KeyOrigin": origin.value,
            "kms:MultiRegion": multi_region,
            "kms:BypassPolicyLockoutSafetyCheck": bool(params.get("BypassPolicyLockoutSafetyCheck")),
            **tag_context(params.get("Tags")),
        },
    )
    policy = params.get("Policy")
    if policy is not None:
        policy = checked_key_policy(ctx, svc, key, policy, bool(params.get("BypassPolicyLockoutSafetyCheck")))
    material, wrapped = svc.keys.new_material(key, 1)
    key = key.changed(current_material=material.version, current_material_id=material.material_id)
    svc.keys.insert(key, wrapped, policy)
    return {"KeyMetadata": key_metadata(key)}


def describe_key(ctx: RequestContext, svc: Services, params: DescribeKeyRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"])
    authorize_key(
        ctx, svc, key, "DescribeKey", identifier=params["KeyId"], grant_tokens=params.get("GrantTokens")
    )
    return {"KeyMetadata": key_metadata(key)}


#: ListKeys' ResourceOwners value for the caller's own keys (the default, and all Strongroom has).
_OWN_KEYS = "SELF"


def list_keys(ctx: RequestContext, svc: Services, params: ListKeysRequest) -> dict[str, Any]:
    authorize_account_action(ctx, svc, "ListKeys")
    limit = page_limit(params, default=100, maximum=1000)
    marker = params.get("Marker")
    if marker is not None and not is_key_id(marker):
        raise InvalidMarkerException("Invalid marker")
    owners = params.get("ResourceOwners")
    if owners is not None and _OWN_KEYS not in owners:
        # Only keys shared through AWS RAM (OTHER_ACCOUNTS_VIA_RAM): Strongroom has no RAM, so none.
        return page([], limit, "Keys", None)
    keys = svc.keys.list_keys(ctx.principal, marker, limit + 1)
    entries = [{"KeyId": k.key_id, "KeyArn": k.arn} for k in keys[:limit]]
    return page(entries, limit, "Keys", keys[limit - 1].key_id if len(keys) > limit else None)


def enable_key(ctx: RequestContext, svc: Services, params: EnableKeyRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "EnableKey")
    svc.keys.save(key.enable())


def disable_key(ctx: RequestContext, svc: Services, params: DisableKeyRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "DisableKey")
    svc.keys.save(key.disable())


def schedule_key_deletion(
    ctx: RequestContext, svc: Services, params: ScheduleKeyDeletionRequest
) -> dict[str, Any]:
    window = validate_pending_window(params.get("PendingWindowInDays"))
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(
        ctx, svc, key, "ScheduleKeyDeletion", extra={"kms:ScheduleKeyDeletionPendingWindowInDays": window}
    )
    key = key.schedule_deletion(svc.clock.now(), window)
    svc.keys.save(key)
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.state.value,
        "PendingWindowInDays": window,
    }


def cancel_key_deletion(
    ctx: RequestContext, svc: Services, params: CancelKeyDeletionRequest
) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "CancelKeyDeletion")
    key = key.cancel_deletion()
    svc.keys.save(key)
    return {"KeyId": key.arn}


def update_key_description(ctx: RequestContext, svc: Services, params: UpdateKeyDescriptionRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "UpdateKeyDescription")
    key.require_not_pending_deletion()
    svc.keys.save(key.changed(description=params["Description"]))


DECLARATIONS = (
    Operation("CreateKey", create_key, Access.CHANGE),
    Operation(
        "DescribeKey",
        describe_key,
        Access.READ,
        cross_account=True,
        grant_keys=GrantKeys.ALL,
        grant_constraints=False,
    ),
    Operation("ListKeys", list_keys, Access.READ),
    Operation("EnableKey", enable_key, Access.CHANGE),
    Operation("DisableKey", disable_key, Access.CHANGE),
    Operation("ScheduleKeyDeletion", schedule_key_deletion, Access.CHANGE),
    Operation("CancelKeyDeletion", cancel_key_deletion, Access.CHANGE),
    Operation("UpdateKeyDescription", update_key_description, Access.CHANGE),
)
