"""A data-key cache for many small messages: reuse one data key for a while instead of one KMS call each.

Off by default, as in the AWS Encryption SDK: reusing a data key means one compromised key exposes every
message encrypted under it, so each entry has limits. An encryption entry is used for at most
``max_messages`` messages and ``max_bytes`` bytes of plaintext, and for at most ``max_age`` seconds; a
decryption entry (a data key decrypted by KMS) also expires after ``max_age`` seconds. The least recently
used entry is evicted when ``capacity`` is reached. Entries are keyed by everything that made them: the KMS
keys, the algorithm suite and the encryption context (and, for decryption, the encrypted data keys and the
trusted key list), so an entry is never used for a request it was not made for.

Thread-safe. The clock is injected so tests can move time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DataKeyCache"]

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    created: float
    messages: int = 0
    bytes: int = 0


class DataKeyCache:
    """Limits: ``max_age`` seconds (required), ``max_messages`` and ``max_bytes`` per encryption entry."""

    def __init__(
        self,
        *,
        max_age: float,
        max_messages: int = 2**32,
        max_bytes: int = 2**63 - 1,
        capacity: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age <= 0:
            raise ValueError("max_age must be positive")
        if not 1 <= max_messages <= 2**32:
            raise ValueError("max_messages must be between 1 and 2**32")
        if max_bytes < 0 or capacity < 1:
            raise ValueError("max_bytes must be at least 0 and capacity at least 1")
        self.max_age = max_age
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[object]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def use_for_encryption(self, key: Hashable, plaintext_length: int, make: Callable[[], T]) -> T:
        """The cached value for ``key`` if it may encrypt one more message of ``plaintext_length`` bytes;
        otherwise a new one from ``make()``, cached when it is within the limits itself."""
        now = self._clock()
        with self._lock:
            entry = self._fresh(key, now)
            if entry is not None:
                if (
                    entry.messages + 1 <= self.max_messages
                    and entry.bytes + plaintext_length <= self.max_bytes
                ):
                    entry.messages += 1
                    entry.bytes += plaintext_length
                    return entry.value  # type: ignore[return-value]
                del self._entries[key]  # used up: the next message gets a new data key
        value = make()
        if plaintext_length <= self.max_bytes:
            self._store(key, _Entry(value, now, messages=1, bytes=plaintext_length))
        return value

    def use_for_decryption(self, key: Hashable, make: Callable[[], T]) -> T:
        """The cached value for ``key``, or a new one from ``make()`` (cached)."""
        now = self._clock()
        with self._lock:
            entry = self._fresh(key, now)
            if entry is not None:
                return entry.value  # type: ignore[return-value]
        value = make()
        self._store(key, _Entry(value, now))
        return value

    def _fresh(self, key: Hashable, now: float) -> _Entry[object] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.created >= self.max_age:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _store(self, key: Hashable, entry: _Entry[T]) -> None:
        with self._lock:
            self._entries[key] = entry  # type: ignore[assignment]
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
