"""Tags: TagResource, UntagResource, ListResourceTags (digest 7.6)."""

from __future__ import annotations

from typing import Any

from strongroom.domain.tags import merge_tags, remove_tags
from strongroom.operations.authz import authorize_key, tag_context
from strongroom.operations.common import marker_offset, page, page_limit
from strongroom.operations.context import RequestContext, Services
from strongroom.operations.declaration import Access, Operation
from strongroom.operations.requests import ListResourceTagsRequest, TagResourceRequest, UntagResourceRequest

__all__ = ["DECLARATIONS", "list_resource_tags", "tag_resource", "untag_resource"]


def tag_resource(ctx: RequestContext, svc: Services, params: TagResourceRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "TagResource", extra=tag_context(params["Tags"]))
    key.require_not_pending_deletion()
    new = [(t["TagKey"], t["TagValue"]) for t in params["Tags"]]
    svc.keys.save(key.changed(tags=merge_tags(key.tags, new)))


def untag_resource(ctx: RequestContext, svc: Services, params: UntagResourceRequest) -> None:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "UntagResource", extra={"aws:TagKeys": list(params["TagKeys"])})
    key.require_not_pending_deletion()
    svc.keys.save(key.changed(tags=remove_tags(key.tags, params["TagKeys"])))


def list_resource_tags(ctx: RequestContext, svc: Services, params: ListResourceTagsRequest) -> dict[str, Any]:
    key = svc.keys.resolve(ctx.principal, params["KeyId"], allow_alias=False)
    authorize_key(ctx, svc, key, "ListResourceTags")
    limit = page_limit(params, default=50, maximum=50)
    start = marker_offset(params)
    chunk = key.tags[start : start + limit]
    entries = [{"TagKey": k, "TagValue": v} for k, v in chunk]
    more = start + limit < len(key.tags)
    return page(entries, limit, "Tags", str(start + limit) if more else None)


DECLARATIONS = (
    Operation("TagResource", tag_resource, Access.CHANGE),
    Operation("UntagResource", untag_resource, Access.CHANGE),
    Operation("ListResourceTags", list_resource_tags, Access.READ),
)
