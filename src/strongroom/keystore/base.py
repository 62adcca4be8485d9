"""The root of trust: the one interface through which key material is wrapped before it is stored.

Backends: :mod:`strongroom.keystore.file` (a 0600 root key file, the embedded default); a PKCS#11 HSM
comes later as one more module implementing the same two methods.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RootOfTrust", "WrappingError"]


class RootOfTrust(Protocol):
    """Wraps secrets for storage. ``context`` binds a wrapped secret to its owner (e.g. the key ARN and
    material id), so a wrapped blob moved to another row fails to unwrap."""

    @property
    def description(self) -> str:
        """A human-readable, non-secret description (for logs and ``/readyz``)."""
        ...

    def wrap(self, secret: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Raise :class:`WrappingError` if the blob was not wrapped by this root with this context."""
        ...


class WrappingError(Exception):
    """A wrapped secret failed to unwrap: wrong root key, wrong context, or corruption."""
