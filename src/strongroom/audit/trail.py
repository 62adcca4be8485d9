"""Reading the audit trail: checking its chain, selecting records, and the last use of each key.

:func:`verify` walks every segment in order and reports the first record whose link does not hold: an
edited record (its hash), a deleted or inserted one (the next sequence number or previous hash), a line
that is not a record. A last line without its newline is a write cut short by a crash (never
acknowledged, and cut off by the next writer); it is reported but is not a broken link.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from strongroom.audit.appender import list_segments
from strongroom.audit.chain import GENESIS, Link, LinkError, link_hash, parse_line

__all__ = ["EventFilter", "LastUsage", "LastUsageIndex", "VerifyReport", "iter_links", "select", "verify"]


@dataclass(frozen=True, slots=True)
class _Located:
    segment: Path
    line_number: int
    link: Link | None  # None: not a record
    complete: bool  # False: the last line, without its newline


def iter_links(directory: Path) -> Iterator[_Located]:
    for segment in list_segments(directory):
        with open(segment, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                complete = line.endswith(b"\n")
                try:
                    link: Link | None = parse_line(line)
                except LinkError:
                    link = None
                yield _Located(segment, number, link, complete)


@dataclass(slots=True)
class VerifyReport:
    records: int = 0
    problem: str | None = None  # the first broken or missing link
    torn_tail: str | None = None  # a final record cut short by a crash

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(directory: Path) -> VerifyReport:
    report = VerifyReport()
    previous, sequence = GENESIS, 0
    for located in iter_links(directory):
        where = f"{located.segment.name} line {located.line_number}"
        if not located.complete:
            report.torn_tail = f"{where}: the last record is incomplete (a write cut short)"
            break
        link = located.link
        if link is None:
            report.problem = f"{where}: not a trail record"
            return report
        if link.sequence != sequence + 1:
            what = "missing" if link.sequence > sequence + 1 else "inserted or repeated"
            report.problem = f"{where}: record {link.sequence} follows record {sequence}: a record is {what}"
            return report
        if link.previous != previous:
            report.problem = f"{where}: record {link.sequence} does not link to record {sequence}"
            return report
        if link_hash(previous, link.sequence, link.event) != link.hash:
            report.problem = f"{where}: record {link.sequence} was altered (its hash does not match)"
            return report
        previous, sequence = link.hash, link.sequence
        report.records += 1
    return report


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events :func:`select` keeps; every given criterion must hold."""

    start: datetime | None = None
    end: datetime | None = None
    key: str | None = None  # a key id or key ARN
    principal: str | None = None  # a principal ARN
    event_names: frozenset[str] = field(default_factory=frozenset)
    error_codes: frozenset[str] = field(default_factory=frozenset)  # "-" keeps successful calls

    def matches(self, event: dict[str, Any]) -> bool:
        if self.start is not None or self.end is not None:
            when = _parse_time(event["eventTime"])
            if (self.start is not None and when < self.start) or (self.end is not None and when >= self.end):
                return False
        if self.event_names and event.get("eventName") not in self.event_names:
            return False
        if self.error_codes and (event.get("errorCode") or "-") not in self.error_codes:
            return False
        if self.principal is not None and (event.get("userIdentity") or {}).get("arn") != self.principal:
            return False
        if self.key is not None:
            arns = [r.get("ARN", "") for r in event.get("resources") or ()]
            if not any(arn == self.key or arn.endswith("/" + self.key) for arn in arns):
                return False
        return True


def select(directory: Path, chosen: EventFilter) -> Iterator[dict[str, Any]]:
    """The events that match, oldest first (records that are not readable are skipped: see verify)."""
    for located in iter_links(directory):
        if located.link is None or not located.complete:
            continue
        event = orjson.loads(located.link.event)
        if chosen.matches(event):
            yield event


@dataclass(frozen=True, slots=True)
class LastUsage:
    operation: str
    timestamp: float
    event_id: str
    request_id: str


class LastUsageIndex:
    """The last successful cryptographic operation of each key, read from the trail.

    The trail is read once, then only what was appended since (by any worker), on each lookup: the
    answer covers every request answered before the lookup."""

    def __init__(self, directory: Path, tracked: frozenset[str]) -> None:
        """``tracked``: the cryptographic operations (names as the trail's ``eventName``) that count."""
        self.directory = directory
        self._tracked = tracked
        self._positions: dict[str, int] = {}  # segment name -> bytes already read
        self._last: dict[str, LastUsage] = {}

    def tracking_start(self) -> float | None:
        """When the trail began (the first segment's creation), or None if there is none yet."""
        segments = list_segments(self.directory) if self.directory.exists() else []
        if not segments:
            return None
        with open(segments[0], "rb") as handle:
            first = handle.readline()
        try:
            event = orjson.loads(parse_line(first).event)
            return _parse_time(event["eventTime"]).timestamp()
        except (LinkError, orjson.JSONDecodeError, KeyError, ValueError):
            return os.stat(segments[0]).st_mtime

    def lookup(self, key_arn: str) -> LastUsage | None:
        self._catch_up()
        return self._last.get(key_arn)

    def _catch_up(self) -> None:
        if not self.directory.exists():
            return
        for segment in list_segments(self.directory):
            start = self._positions.get(segment.name, 0)
            with open(segment, "rb") as handle:
                handle.seek(start)
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # being written, or cut short: read again next time
                    start += len(line)
                    self._note(line)
            self._positions[segment.name] = start

    def _note(self, line: bytes) -> None:
        try:
            event = orjson.loads(parse_line(line).event)
        except (LinkError, orjson.JSONDecodeError):
            return
        if event.get("errorCode") or event.get("eventName") not in self._tracked:
            return
        usage = LastUsage(
            event["eventName"],
            _parse_time(event["eventTime"]).timestamp(),
            event["eventID"],
            event["requestID"],
        )
        for resource in event.get("resources") or ():
            self._last[resource["ARN"]] = usage
