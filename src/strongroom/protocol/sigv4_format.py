"""The text side of AWS Signature Version 4: what clients write, what gets signed, and how AWS complains.

:mod:`strongroom.protocol.sigv4` decides *whether* a request is authentic; this module only turns strings into
strings (or numbers): parsing the ``Authorization`` header and the request date, building the canonical URI,
query and header values that go into the canonical request, and spelling AWS's error messages. None of it
knows about credentials, clocks or keys, so it is kept apart from the verification flow, where each piece can
be read (and checked against the SigV4 specification) on its own.

Design notes
------------
* **Texts are AWS's own.** SDKs and people recognise the messages real AWS services send, so the constants and
  :func:`scope_problems` reproduce AWS's wording, not paraphrases of it.
* **It runs on every request**, so the common path (a botocore-signed ``POST /`` with no query string) avoids
  regular expressions and parses with ``str.partition``/``split``; dates are parsed by hand and remembered;
  each canonical-form function returns early when there is nothing to encode or collapse. The verifier
  imports these functions by name, so calling them costs what it did when they lived in its own module.
* **The date caches are process-wide** and bounded (cleared when full); races between threads only repeat
  work.
"""

from __future__ import annotations

import time
from datetime import UTC
from datetime import date as _date
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from strongroom.errors import IncompleteSignatureException

__all__ = [
    "ALGORITHM",
    "MSG_DATE_REQUIRED",
    "MSG_HOST_NOT_SIGNED",
    "MSG_SIGNATURE_MISMATCH",
    "REGION_CHARS",
    "TERMINATOR",
    "canonical_header_value",
    "canonical_query",
    "canonical_uri",
    "format_iso",
    "must_be_signed",
    "parse_authorization",
    "parse_date_header",
    "parse_iso_basic",
    "scope_problems",
]

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"

#: Characters SigV4 leaves unencoded (RFC 3986 "unreserved"). Used with ``str.strip`` as a cheap
#: "consists only of these characters" test: stripping removes everything iff every character is in the set.
_UNRESERVED: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
#: Characters of a valid credential-scope region (same ``str.strip`` test).
REGION_CHARS: Final = "abcdefghijklmnopqrstuvwxyz0123456789-"
_EPOCH_ORDINAL: Final = _date(1970, 1, 1).toordinal()
_DAY_CACHE_MAX: Final = 1_000
_DAY_CACHE: dict[str, int] = {}  # YYYYMMDD -> days since the epoch
_EPOCH_CACHE_MAX: Final = 4_096
_EPOCH_CACHE: dict[str, int] = {}  # YYYYMMDD'T'HHMMSS'Z' -> seconds since the epoch

MSG_SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
MSG_DATE_REQUIRED: Final = (
    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
)
MSG_HOST_NOT_SIGNED: Final = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def must_be_signed(header: str) -> str:
    """AWS's text for a header that must be in SignedHeaders and is not, with the name in the usual
    capitalisation (``x-amz-target`` -> ``'X-Amz-Target' must be a 'SignedHeader' in the AWS
    Authorization.``)."""
    shown = "-".join(part[:1].upper() + part[1:] for part in header.split("-"))
    return f"'{shown}' must be a 'SignedHeader' in the AWS Authorization."


# -- dates -------------------------------------------------------------------------------------------------
def format_iso(epoch: float) -> str:
    """Seconds since the epoch as ISO-8601 basic format, the form SigV4 uses (``20240101T000000Z``)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(epoch)))


def parse_iso_basic(value: str) -> int | None:
    """``YYYYMMDD'T'HHMMSS'Z'`` -> epoch seconds, or None if it is not exactly that.

    Hand-rolled instead of ``strptime`` (about ten times slower) because it runs on every request. Results
    are remembered: under load many requests carry the same timestamp (one-second resolution), and only
    about ``2 * max_skew`` distinct values are acceptable at any moment.
    """
    epoch = _EPOCH_CACHE.get(value)
    if epoch is not None:
        return epoch
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    days = _DAY_CACHE.get(value[:8])
    if days is None:
        days = _parse_day(value[:8])
        if days is None:
            return None
    clock = value[9:15]
    if not (clock.isascii() and clock.isdigit()):
        return None
    hhmmss = int(clock)
    hour, minute, second = hhmmss // 10000, hhmmss // 100 % 100, hhmmss % 100
    if hour > 23 or minute > 59 or second > 59:
        return None
    epoch = days * 86400 + hour * 3600 + minute * 60 + second
    if len(_EPOCH_CACHE) >= _EPOCH_CACHE_MAX:
        _EPOCH_CACHE.clear()
    _EPOCH_CACHE[value] = epoch
    return epoch


def _parse_day(yyyymmdd: str) -> int | None:
    """``YYYYMMDD`` -> days since the epoch (remembered in ``_DAY_CACHE``), or None if not a real date."""
    if not (yyyymmdd.isascii() and yyyymmdd.isdigit()):
        return None
    try:
        days = _date(int(yyyymmdd[0:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    if len(_DAY_CACHE) >= _DAY_CACHE_MAX:
        _DAY_CACHE.clear()
    _DAY_CACHE[yyyymmdd] = days
    return days


def parse_date_header(value: str) -> int | None:
    """The ``Date`` header: SigV4 accepts ISO-8601 basic there too, but HTTP clients send RFC 7231 dates."""
    epoch = parse_iso_basic(value)
    if epoch is not None:
        return epoch
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" (what botocore's formatdate writes) or no zone: HTTP dates are UTC
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


# -- canonical request parts -------------------------------------------------------------------------------
def canonical_uri(path: str) -> str:
    """The canonical URI of a non-S3 service from the *raw* (still percent-encoded) request path.

    SigV4 for every service but S3 normalises the path (dot segments and empty segments removed) and
    URI-encodes it once more: the wire path is already encoded once, so ``/a%20b`` is signed as ``/a%2520b``.
    That is what botocore does, so the server must pass the path exactly as it came off the wire.
    """
    if path == "/" or not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    normalised = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalised += "/"
    return quote(normalised, safe="/~")


def _canonical_query_component(component: str) -> str:
    """Decode then encode one key or value, so any valid client encoding maps to SigV4's single form."""
    if not component.strip(_UNRESERVED):
        return component  # nothing to encode: the common case
    return quote(unquote_to_bytes(component), safe="-_.~")


def canonical_query(query: str) -> str:
    """Parameters URI-encoded per SigV4 and sorted by encoded name, then by encoded value."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((_canonical_query_component(name), _canonical_query_component(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_header_value(value: str) -> str:
    """SigV4 "Trimall": trim, and collapse inner whitespace runs to one space (fast path: nothing to do)."""
    value = value.strip()
    if "  " in value or "\t" in value or not value.isascii():  # rare: botocore collapses any whitespace run
        return " ".join(value.split())
    return value


# -- the Authorization header and its credential scope -----------------------------------------------------
def parse_authorization(authorization: str) -> tuple[str, str | None, str | None, str | None]:
    """Split an ``Authorization`` value into (scheme, Credential, SignedHeaders, Signature).

    Parameters are only parsed for ``AWS4-*`` schemes: anything else (``Bearer ...``, SigV2's ``AWS ...``)
    simply lacks them, which is how AWS reports it. Parameters are separated by commas and/or whitespace
    (none of their values may contain either); a token without ``=`` is an error in AWS's wording.
    """
    scheme, _, rest = authorization.partition(" ")
    if not scheme.startswith("AWS4-"):
        return scheme, None, None, None
    # Fast path: exactly botocore's layout, "Credential=..., SignedHeaders=..., Signature=...". When no value
    # holds a space or comma (and the header has no tab or non-ASCII whitespace), the general parser below
    # would split it the same way. (str.isascii is O(1); isprintable would scan the whole header.)
    if rest.startswith("Credential=") and rest.isascii() and "\t" not in rest:
        credential, found_signed, tail = rest[11:].partition(", SignedHeaders=")
        signed_headers, found_signature, signature = tail.partition(", Signature=")
        if (
            found_signed
            and found_signature
            and " " not in credential
            and "," not in credential
            and " " not in signed_headers
            and "," not in signed_headers
            and " " not in signature
            and "," not in signature
        ):
            return scheme, credential, signed_headers, signature
    found: dict[str, str] = {}
    for token in rest.replace(",", " ").split():
        name, eq, value = token.partition("=")
        if not eq:
            raise IncompleteSignatureException(
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'."
            )
        found[name] = value
    return scheme, found.get("Credential"), found.get("SignedHeaders"), found.get("Signature")


def scope_problems(
    scope_date: str, region: str, service: str, terminator: str, expected_service: str, request_iso: str
) -> str:
    """Everything wrong with the credential scope, in AWS's order and wording (called only if something is).

    AWS reports all scope problems at once, each sentence followed by a space except the date one.
    """
    request_day = request_iso[:8]
    region_ok = bool(region) and not region.strip(REGION_CHARS)
    problems = ""
    if not region_ok:
        problems += f"Credential should be scoped to a valid region, not '{region}'. "
    if service != expected_service:
        problems += f"Credential should be scoped to correct service: '{expected_service}'. "
    if terminator != TERMINATOR:
        problems += (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )
    if scope_date != request_day:
        problems += (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{request_day}', from '{request_iso}'."
        )
    return problems
