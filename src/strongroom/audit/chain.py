"""The audit trail's byte format: one JSON line per record, each chained to the one before.

A line is exactly::

    {"sequence":N,"previousHash":"<64 hex>","hash":"<64 hex>","event":<event JSON>}\\n

where ``N`` counts records from 1, ``previousHash`` is the previous record's hash (64 zeros for the
first) and ``hash`` is SHA-256 over the previous hash (32 bytes), ``N`` (8 bytes, big-endian) and the
event JSON exactly as written. Editing a record breaks its hash; deleting or inserting one breaks the
next record's sequence or previous hash. The event bytes are hashed as they stand in the file, so the
check needs no canonical re-encoding.

The trail is a directory of segments, ``trail-<6 digits>.jsonl``, in order; the chain runs across them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["GENESIS", "Link", "LinkError", "format_line", "link_hash", "parse_line", "segment_name"]

GENESIS: Final = bytes(32)
SEGMENT_PATTERN: Final = re.compile(r"trail-(\d{6})\.jsonl")
_LINE: Final = re.compile(
    rb'\{"sequence":(\d{1,19}),"previousHash":"([0-9a-f]{64})","hash":"([0-9a-f]{64})","event":'
)


class LinkError(ValueError):
    """A line that is not a trail record."""


@dataclass(frozen=True, slots=True)
class Link:
    sequence: int
    previous: bytes
    hash: bytes
    event: bytes  # the event JSON, as written


def segment_name(number: int) -> str:
    return f"trail-{number:06d}.jsonl"


def link_hash(previous: bytes, sequence: int, event: bytes) -> bytes:
    return hashlib.sha256(previous + sequence.to_bytes(8, "big") + event).digest()


def format_line(previous: bytes, sequence: int, event: bytes) -> tuple[bytes, bytes]:
    """The line for a record, and its hash (the next record's previous hash)."""
    digest = link_hash(previous, sequence, event)
    head = b'{"sequence":%d,"previousHash":"%s","hash":"%s","event":' % (
        sequence,
        previous.hex().encode(),
        digest.hex().encode(),
    )
    return head + event + b"}\n", digest


def parse_line(line: bytes) -> Link:
    """A record from one line (with or without its newline); LinkError if it is not one."""
    match = _LINE.match(line)
    body = line.rstrip(b"\n")
    if match is None or not body.endswith(b"}"):
        raise LinkError("not a trail record")
    return Link(
        int(match.group(1)),
        bytes.fromhex(match.group(2).decode()),
        bytes.fromhex(match.group(3).decode()),
        body[match.end() : -1],
    )
