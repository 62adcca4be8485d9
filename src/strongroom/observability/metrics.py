"""``/metrics`` in the Prometheus text format, summed over every worker process.

Metrics (all prefixed ``strongroom_``):

- ``requests_total`` (counter): ``operation``, ``code`` (``OK`` or the AWS error code);
- ``request_duration_seconds`` (histogram): ``operation``; from arrival to answer, the audit wait included;
- ``cache_lookups_total`` (counter): ``cache`` (``key``, ``alias``, ``cipher``, ``credential``,
  ``key_policy``, ``identity_policies``), ``result`` (``hit``, ``miss``);
- ``audit_flush_seconds`` (histogram): one write and sync of a batch of records;
- ``audit_batch_records`` (histogram): records per batch, the group-commit factor;
- ``keys`` (gauge): ``state``, counted in the database at scrape time.

Workers are separate processes, so values go through prometheus_client's multiprocess mode: each worker
writes its own memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR`` (a private directory that
``strongroom serve`` creates off the data volume and removes at exit, see :mod:`.metrics_files`) and a
scrape, answered by any worker, sums them. Cache lookups are counted in plain integers on the hot path and
added to the shared counters once a second.

Metrics must never take the service down: if their files cannot be written (a full ``/dev/shm``), the
process logs it once and stops updating them, and requests are answered as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from strongroom.observability.metrics_files import install_preallocation
from strongroom.service.cache_stats import CacheStats

__all__ = ["CONTENT_TYPE", "MULTIPROCESS_ENV", "Metrics", "audit_flush_histograms"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_FLUSH_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
log = logging.getLogger("strongroom.metrics")
_multiprocess_values_chosen = False


class _KeyStates(Collector):
    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("strongroom_keys", "KMS keys by key state.", labels=["state"])
        for state, number in sorted(self._count().items()):
            family.add_metric([state], number)
        yield family


def _use_multiprocess_values() -> None:
    """prometheus_client picks in-memory or file-backed values when it is first imported, which may be
    before the directory is set (``strongroom serve`` imports it first, and so may embedding code), so
    pick again here, before any metric is made: once per process, since each pick opens its own set of
    files (two sets on one file would overwrite each other's entries)."""
    global _multiprocess_values_chosen
    if os.environ.get(MULTIPROCESS_ENV) and not _multiprocess_values_chosen:
        from prometheus_client import values

        install_preallocation()
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        _multiprocess_values_chosen = True


class _OffOnce:
    """Turns metrics off at their first failure to write (logged once): they are not worth a request."""

    def __init__(self) -> None:
        self.off = False

    def failed(self, error: OSError) -> None:
        if not self.off:
            self.off = True
            log.error("metrics are off in this process: their files cannot be written (%s)", error)


def _ignore_flush(count: int, seconds: float) -> None:
    pass


def audit_flush_histograms(registry: CollectorRegistry | None = None) -> Callable[[int, float], None]:
    """The audit writer's two histograms, and the function that observes one flush (a no-op once their
    files cannot be written)."""
    _use_multiprocess_values()
    registry = registry or CollectorRegistry(auto_describe=True)
    guard = _OffOnce()
    try:
        seconds = Histogram(
            "strongroom_audit_flush_seconds",
            "One write and fdatasync of a batch of audit records.",
            buckets=_FLUSH_BUCKETS,
            registry=registry,
        )
        records = Histogram(
            "strongroom_audit_batch_records",
            "Audit records made durable by one flush (group commit).",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
    except OSError as error:
        guard.failed(error)
        return _ignore_flush

    def observe(count: int, elapsed: float) -> None:
        if guard.off:
            return
        try:
            seconds.observe(elapsed)
            records.observe(count)
        except OSError as error:
            guard.failed(error)

    return observe


class Metrics:
    def __init__(self, cache_stats: CacheStats, key_states: Callable[[], dict[str, int]]) -> None:
        _use_multiprocess_values()
        self._own = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "strongroom_requests", "KMS requests answered.", ["operation", "code"], registry=self._own
        )
        self.latency = Histogram(
            "strongroom_request_duration_seconds",
            "Time from a request's arrival to its answer, the audit wait included.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self._own,
        )
        self.cache = Counter(
            "strongroom_cache_lookups", "Per-worker cache lookups.", ["cache", "result"], registry=self._own
        )
        self.observe_flush = audit_flush_histograms(self._own)
        self._cache_stats = cache_stats
        self._cache_synced: dict[tuple[str, str], int] = {}
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._key_states = _KeyStates(key_states)
        self._guard = _OffOnce()

    def observe_request(self, operation: str, code: str, seconds: float) -> None:
        if self._guard.off:
            return
        try:
            children = self._children.get((operation, code))
            if children is None:
                if len(self._children) > 2000:  # bounded: operation and code come from a finite set, mostly
                    self._children.clear()
                children = (self.requests.labels(operation, code), self.latency.labels(operation))
                self._children[(operation, code)] = children
            children[0].inc()
            children[1].observe(seconds)
        except OSError as error:
            self._guard.failed(error)

    def sync_caches(self) -> None:
        """Add the cache counts since the last sync to the shared counters."""
        if self._guard.off:
            return
        try:
            for result, tally in (("hit", self._cache_stats.hits), ("miss", self._cache_stats.misses)):
                for cache, total in list(tally.items()):
                    done = self._cache_synced.get((cache, result), 0)
                    if total > done:
                        self.cache.labels(cache, result).inc(total - done)
                        self._cache_synced[(cache, result)] = total
        except OSError as error:
            self._guard.failed(error)

    def exposition(self) -> bytes:
        self.sync_caches()
        registry = CollectorRegistry(auto_describe=True)
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Forward(self._own))
        registry.register(self._key_states)
        try:
            return generate_latest(registry)
        except OSError:  # the shared files cannot be read: the key states, at least
            log.exception("cannot read the workers' metrics files")
            fallback = CollectorRegistry(auto_describe=True)
            fallback.register(self._key_states)
            return generate_latest(fallback)


class _Forward(Collector):
    """This process's own metrics, when there is no multiprocess directory (in-process use, tests)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self._registry.collect()
