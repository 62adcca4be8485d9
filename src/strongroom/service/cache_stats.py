"""Hit and miss counts of a worker's caches, for ``/metrics``: plain integers, cheap on the hot path."""

from __future__ import annotations

from collections import Counter

__all__ = ["CacheStats"]


class CacheStats:
    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()

    def count(self, cache: str, hit: bool) -> None:
        (self.hits if hit else self.misses)[cache] += 1
