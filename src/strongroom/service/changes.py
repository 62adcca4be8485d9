"""Cross-worker cache invalidation without touching the database on the hot path.

Each worker caches key metadata, aliases, credentials and unwrapped key material. A change committed by
any worker (or by an admin command) is appended to the store's change log, and its sequence number is
then written into a tiny shared file, the *epoch file*, mapped into every worker's memory. On each
request a worker compares the mapped value with the last one it saw (a memory read, no I/O); only when
it differs does it read the change log and evict what changed. The writer publishes before it
answers, so any request that starts after a DisableKey response sees the key disabled, on every worker.

For several nodes sharing PostgreSQL, the same :class:`ChangeFeed` role is played by LISTEN/NOTIFY.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from strongroom.storage.base import Change, MetadataStore

__all__ = ["CacheCoordinator", "ChangeFeed", "EpochFile", "LocalEpoch"]

_EPOCH = struct.Struct("<Q")


class ChangeFeed(Protocol):
    def publish(self, seq: int) -> None: ...
    def current(self) -> int: ...


class LocalEpoch:
    """A feed for a single process (tests, admin commands without a server)."""

    def __init__(self) -> None:
        self._value = 0

    def publish(self, seq: int) -> None:
        self._value = max(self._value, seq)

    def current(self) -> int:
        return self._value


class EpochFile:
    """An 8-byte counter in a shared file; it only ever grows (updated under an exclusive flock)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _EPOCH.size:
                os.ftruncate(fd, _EPOCH.size)
            self._map = mmap.mmap(fd, _EPOCH.size)
        finally:
            os.close(fd)
        self._path = path

    def publish(self, seq: int) -> None:
        with open(self._path, "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if _EPOCH.unpack_from(self._map, 0)[0] < seq:
                    _EPOCH.pack_into(self._map, 0, seq)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def current(self) -> int:
        value: int = _EPOCH.unpack_from(self._map, 0)[0]
        return value


class CacheCoordinator:
    """Polls the feed once per request and hands new changes to the registered caches."""

    def __init__(self, store: MetadataStore, feed: ChangeFeed) -> None:
        self._store = store
        self._feed = feed
        self._observed = feed.current()
        # A new worker starts with empty caches: only changes from now on matter.
        self._applied = store.latest_change_seq()
        self._on_change: list[Callable[[Change], None]] = []
        self._on_flush: list[Callable[[], None]] = []

    def subscribe(self, on_change: Callable[[Change], None], on_flush: Callable[[], None]) -> None:
        self._on_change.append(on_change)
        self._on_flush.append(on_flush)

    def flush_local(self) -> None:
        """Empty every cache of this process (after a rolled-back change, whose objects the caches may
        already hold)."""
        for flush in self._on_flush:
            flush()

    def published(self, seq: int) -> None:
        """Called by the store after each local commit: tell the other workers."""
        self._feed.publish(seq)

    def refresh(self) -> None:
        """Cheap unless something changed since the last call."""
        observed = self._feed.current()
        if observed == self._observed:
            return
        self._observed = observed
        changes, oldest = self._store.changes_since(self._applied)
        if oldest > self._applied + 1 and self._applied:
            # The log was pruned past what we applied: we may have missed changes.
            for flush in self._on_flush:
                flush()
        for change in changes:
            for notify in self._on_change:
                notify(change)
            self._applied = change.seq
