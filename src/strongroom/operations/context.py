"""What every handler receives: who is calling, and the services it may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from strongroom.clock import Clock, Random
from strongroom.service.authorization import Authorizer
from strongroom.service.keyring import KeyRepository, Principal

if TYPE_CHECKING:
    from strongroom.operations.declaration import Catalog

__all__ = ["Handler", "KeyUsageSource", "RequestContext", "Services"]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    operation: str
    principal: Principal
    access_key_id: str
    source_ip: str = ""
    user_agent: str = ""
    resolved_keys: list[str] = field(default_factory=list)  # key ARNs, for the audit record


class KeyUsageSource(Protocol):
    """The last successful cryptographic use of each key (the audit trail's index)."""

    def tracking_start(self) -> float | None: ...

    def lookup(self, key_arn: str) -> Any: ...


@dataclass(slots=True)
class Services:
    keys: KeyRepository
    auth: Authorizer
    clock: Clock
    rng: Random
    catalog: Catalog  # every operation's declaration (strongroom.operations.registry)
    key_usage: KeyUsageSource | None = None  # None when the audit trail is off
    # DER root certificates trusted for Nitro Enclaves attestation documents (``Recipient``)
    attestation_roots: tuple[bytes, ...] = ()


Handler = Callable[[RequestContext, Services, Any], dict[str, Any] | None]
"""``(context, services, request)``: the request is the operation's validated ``TypedDict``
(:mod:`strongroom.operations.requests`)."""
