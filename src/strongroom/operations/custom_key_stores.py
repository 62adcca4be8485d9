"""Custom key stores, as AWS answers an account that has none (digest 10).

Strongroom has no custom key stores yet (external key stores come with their own issue), so every
account is one without any: ``DescribeCustomKeyStores`` lists nothing, and any operation naming a store
(here, or ``CreateKey`` / ``GenerateRandom`` with ``CustomKeyStoreId``) gets
``CustomKeyStoreNotFoundException``. Creating one cannot succeed: a CloudHSM cluster id names no cluster
(``CloudHsmClusterNotFoundException``), and an external key store is ``UnsupportedOperationException``.
Each is authorized first, as AWS authorizes before it looks (IAM policy only: these are account actions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.errors import (
    CloudHsmClusterNotFoundException,
    CustomKeyStoreNotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from strongroom.operations.authz import authorize_account_action
from strongroom.operations.common import marker_offset, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import (
    ConnectCustomKeyStoreRequest,
    CreateCustomKeyStoreRequest,
    DeleteCustomKeyStoreRequest,
    DescribeCustomKeyStoresRequest,
    DisconnectCustomKeyStoreRequest,
    UpdateCustomKeyStoreRequest,
)

__all__ = [
    "DECLARATIONS",
    "connect_custom_key_store",
    "create_custom_key_store",
    "delete_custom_key_store",
    "describe_custom_key_stores",
    "disconnect_custom_key_store",
    "no_such_store",
    "update_custom_key_store",
]


def no_such_store(store_id: str) -> CustomKeyStoreNotFoundException:
    """What naming a custom key store answers: this account has none."""
    return CustomKeyStoreNotFoundException(f"Custom key store {store_id} does not exist in this account.")


def describe_custom_key_stores(
    ctx: RequestContext, svc: Services, params: DescribeCustomKeyStoresRequest
) -> dict[str, Any]:
    authorize_account_action(ctx, svc, "DescribeCustomKeyStores")
    page_limit(params, default=1000, maximum=1000)
    marker_offset(params)
    for member in ("CustomKeyStoreId", "CustomKeyStoreName"):
        if params.get(member) is not None:
            raise no_such_store(params[member])
    return {"CustomKeyStores": [], "Truncated": False}


def create_custom_key_store(
    ctx: RequestContext, svc: Services, params: CreateCustomKeyStoreRequest
) -> dict[str, Any]:
    authorize_account_action(ctx, svc, "CreateCustomKeyStore")
    if (params.get("CustomKeyStoreType") or "AWS_CLOUDHSM") == "EXTERNAL_KEY_STORE":
        raise UnsupportedOperationException("External key stores are not supported by Strongroom yet.")
    cluster = params.get("CloudHsmClusterId")
    if cluster is None:
        raise ValidationException("CloudHsmClusterId is required when CustomKeyStoreType is AWS_CLOUDHSM.")
    raise CloudHsmClusterNotFoundException(f"CloudHSM cluster {cluster} does not exist.")


def _named_store(ctx: RequestContext, svc: Services, params: Mapping[str, Any], operation: str) -> None:
    authorize_account_action(ctx, svc, operation)
    raise no_such_store(params["CustomKeyStoreId"])


def update_custom_key_store(ctx: RequestContext, svc: Services, params: UpdateCustomKeyStoreRequest) -> None:
    _named_store(ctx, svc, params, "UpdateCustomKeyStore")


def delete_custom_key_store(ctx: RequestContext, svc: Services, params: DeleteCustomKeyStoreRequest) -> None:
    _named_store(ctx, svc, params, "DeleteCustomKeyStore")


def connect_custom_key_store(
    ctx: RequestContext, svc: Services, params: ConnectCustomKeyStoreRequest
) -> None:
    _named_store(ctx, svc, params, "ConnectCustomKeyStore")


def disconnect_custom_key_store(
    ctx: RequestContext, svc: Services, params: DisconnectCustomKeyStoreRequest
) -> None:
    _named_store(ctx, svc, params, "DisconnectCustomKeyStore")


DECLARATIONS = (
    Operation("CreateCustomKeyStore", create_custom_key_store, Access.CHANGE),
    Operation("DescribeCustomKeyStores", describe_custom_key_stores, Access.READ),
    Operation("UpdateCustomKeyStore", update_custom_key_store, Access.CHANGE),
    Operation("DeleteCustomKeyStore", delete_custom_key_store, Access.CHANGE),
    Operation("ConnectCustomKeyStore", connect_custom_key_store, Access.CHANGE),
    Operation("DisconnectCustomKeyStore", disconnect_custom_key_store, Access.CHANGE),
)
