"""Whole messages in memory: thin wrappers over the streaming functions."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.envelope.cache import DataKeyCache
from strongroom.envelope.stream import (
    DEFAULT_FRAME_LENGTH,
    DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    DecryptOptions,
    decrypt_stream,
    encrypt_stream,
)

__all__ = ["decrypt_bytes", "encrypt_bytes"]


def encrypt_bytes(
    kms: Any,
    key_ids: Sequence[str],
    plaintext: bytes,
    encryption_context: Mapping[str, str] | None = None,
    *,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    signed: bool = True,
    cache: DataKeyCache | None = None,
) -> bytes:
    """One message holding ``plaintext``, decryptable with any of ``key_ids``."""
    sink = io.BytesIO()
    encrypt_stream(
        kms,
        key_ids,
        io.BytesIO(plaintext),
        sink,
        encryption_context,
        frame_length=frame_length,
        signed=signed,
        cache=cache,
        plaintext_length=len(plaintext),
    )
    return sink.getvalue()


def decrypt_bytes(
    kms: Any,
    message: bytes,
    *,
    key_ids: Sequence[str] | None = None,
    encryption_context: Mapping[str, str] | None = None,
    allow_non_committing: bool = False,
    max_encrypted_data_keys: int = DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    cache: DataKeyCache | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The plaintext and the message's encryption context (see :class:`DecryptOptions` for the rest).

    The plaintext is returned only once the whole message has verified, so one pass suffices."""
    options = DecryptOptions(
        key_ids=key_ids,
        encryption_context=encryption_context,
        allow_non_committing=allow_non_committing,
        release_unverified=True,
        max_encrypted_data_keys=max_encrypted_data_keys,
        cache=cache,
    )
    sink = io.BytesIO()
    header = decrypt_stream(kms, io.BytesIO(message), sink, options)
    return sink.getvalue(), header.encryption_context
