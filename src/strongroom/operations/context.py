"""What every handler receives: who is calling, and the services it may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.clock import Clock, Random
from strongroom.service.authorization import Authorizer
from strongroom.service.keyring import KeyRepository, Principal

__all__ = ["Handler", "RequestContext", "Services"]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    operation: str
    principal: Principal
    access_key_id: str
    source_ip: str = ""
    user_agent: str = ""


@dataclass(slots=True)
class Services:
    keys: KeyRepository
    auth: Authorizer
    clock: Clock
    rng: Random


Handler = Callable[[RequestContext, Services, dict[str, Any]], dict[str, Any] | None]
