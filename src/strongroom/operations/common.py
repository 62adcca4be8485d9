"""Small helpers shared by the handlers: blobs, pagination, DryRun, key-type checks."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from strongroom.domain.keys import KeySpec, KmsKey
from strongroom.errors import DryRunOperationException, InvalidKeyUsageException, InvalidMarkerException

__all__ = ["b64", "check_dry_run", "page", "page_limit", "require_symmetric_algorithm"]


def b64(data: bytes) -> str:
    """Standard base64 with padding, no newlines: how blobs travel in AWS JSON 1.1."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def check_dry_run(params: Mapping[str, Any]) -> None:
    """Call once every check the real call would make has passed, before any side effect."""
    if params.get("DryRun"):
        raise DryRunOperationException()


def page_limit(params: Mapping[str, Any], default: int, maximum: int) -> int:
    """The documented default and maximum; values between it and the model's 1000 are clamped."""
    limit = params.get("Limit")
    return default if limit is None else min(int(limit), maximum)


def marker_offset(params: Mapping[str, Any]) -> int:
    marker = params.get("Marker")
    if marker is None:
        return 0
    if not marker.isdigit() or len(marker) > 9:
        raise InvalidMarkerException("Invalid marker")
    return int(marker)


def page(items: list[dict[str, Any]], limit: int, member: str, next_marker: str | None) -> dict[str, Any]:
    """``Truncated`` always present; ``NextMarker`` only when truncated (digest section 10)."""
    result: dict[str, Any] = {member: items, "Truncated": next_marker is not None}
    if next_marker is not None:
        result["NextMarker"] = next_marker
    return result


def require_symmetric_algorithm(key: KmsKey, algorithm: str | None) -> None:
    if (
        algorithm is not None
        and algorithm != "SYMMETRIC_DEFAULT"
        and key.key_spec is KeySpec.SYMMETRIC_DEFAULT
    ):
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")
